// SysV message queues: dump (every message copied with MSG_COPY, the queue
// keeps it) and restore (same id; messages sent again, in order, from the
// process that sent last).
#include <sys/msg.h>
#include <sys/syscall.h>

#include <cstring>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/ipc/SysvIpc.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/restore/RestoredProcess.hpp"
#include "core/restore/TreeBuilder.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::ipc {
namespace {

#ifndef MSG_COPY
constexpr int MSG_COPY = 040000;
#endif

struct Message {
  int64_t type = 0;
  std::string bytes;
};

std::string describe(int id, int32_t key) {
  return fmt::format("SysV message queue {} (key {:#x})", id, uint32_t(key));
}

// Every message of queue `id`, in order, without taking any off the queue.
// Retries when something outside the tree changes the queue meanwhile.
std::vector<Message> copyMessages(int id, int32_t key) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    msqid_ds before{};
    if (msgctl(id, IPC_STAT, &before) != 0) throwErrno("reading " + describe(id, key));
    std::vector<char> buf(sizeof(long) + before.__msg_cbytes + 1);
    std::vector<Message> out;
    for (msgqnum_t i = 0; i < before.msg_qnum; ++i) {
      ssize_t n = msgrcv(id, buf.data(), buf.size() - sizeof(long), long(i), IPC_NOWAIT | MSG_COPY);
      if (n < 0 && errno == ENOSYS)
        throw Error(
            fmt::format("cannot read {} without emptying it: this kernel has no MSG_COPY "
                        "(CONFIG_CHECKPOINT_RESTORE)",
                        describe(id, key)));
      if (n < 0 && (errno == ENOMSG || errno == E2BIG)) break;  // changed: try again
      if (n < 0) throwErrno("copying the messages of " + describe(id, key));
      Message m;
      std::memcpy(&m.type, buf.data(), sizeof(long));
      m.bytes.assign(buf.data() + sizeof(long), size_t(n));
      out.push_back(std::move(m));
    }
    msqid_ds after{};
    if (msgctl(id, IPC_STAT, &after) != 0) throwErrno("reading " + describe(id, key));
    if (out.size() == before.msg_qnum && after.msg_qnum == before.msg_qnum &&
        after.__msg_cbytes == before.__msg_cbytes && after.msg_stime == before.msg_stime &&
        after.msg_rtime == before.msg_rtime)
      return out;
  }
  throw Error(
      fmt::format("{} keeps changing while ckpt reads it (a process outside the tree "
                  "uses it); try again",
                  describe(id, key)));
}

std::vector<Message> savedMessages(const image::SysvMsgQueue& q, const std::string& imageDir) {
  std::vector<Message> out;
  std::string data;
  if (!q.data_file.empty()) data = readImageFile(imageDir + "/" + q.data_file, q.data_size);
  size_t at = 0;
  for (const auto& m : q.messages) {
    out.push_back({m.type, data.substr(at, m.size)});
    at += m.size;
  }
  return out;
}

bool sameMessages(const std::vector<Message>& a, const std::vector<Message>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].type != b[i].type || a[i].bytes != b[i].bytes) return false;
  return true;
}

// Sends one message from inside `rs`'s process, or from ckpt when null.
void send(RemoteSyscalls* rs, RemoteMemory* mem, const ScratchLayout& s, int id, const Message& m,
          const std::string& what) {
  if (rs && mem && sizeof(long) + m.bytes.size() <= s.dataSize()) {
    mem->writeValue(s.data(), long(m.type));
    mem->write(s.data() + sizeof(long), m.bytes.data(), m.bytes.size());
    rs->check("sending a message to " + what, SYS_msgsnd, uint64_t(id), s.data().addr(),
              m.bytes.size(), IPC_NOWAIT);
    return;
  }
  std::vector<char> buf(sizeof(long) + m.bytes.size());
  long type = long(m.type);
  std::memcpy(buf.data(), &type, sizeof type);
  std::memcpy(buf.data() + sizeof type, m.bytes.data(), m.bytes.size());
  if (msgsnd(id, buf.data(), m.bytes.size(), IPC_NOWAIT) != 0)
    throwErrno("sending a message to " + what);
}

void setQueueAttrs(const image::SysvMsgQueue& q, const std::string& what, bool limitToo) {
  msqid_ds ds{};
  if (msgctl(q.id, IPC_STAT, &ds) != 0) throwErrno("reading back " + what);
  ds.msg_perm.uid = q.uid;
  ds.msg_perm.gid = q.gid;
  ds.msg_perm.mode = q.mode;
  if (limitToo) ds.msg_qbytes = q.qbytes;
  if (msgctl(q.id, IPC_SET, &ds) != 0)
    throw SysError(
        fmt::format("setting owner, mode and byte limit ({}) of {}{}", q.qbytes, what,
                    errno == EPERM ? " (a limit above msgmnb needs CAP_SYS_RESOURCE)" : ""),
        errno);
}

}  // namespace

void dumpSysvMsgs(image::Image& img, image::ImageWriter& writer) {
  std::set<pid_t> tree = treePids(img);
  for (const auto& row : proc::parseSysvipc(proc::readProcFile("/proc/sysvipc/msg"))) {
    image::SysvMsgQueue q;
    q.lspid = int32_t(proc::sysvipcField(row, "lspid"));
    q.lrpid = int32_t(proc::sysvipcField(row, "lrpid"));
    if (!tree.count(q.lspid) && !tree.count(q.lrpid)) continue;
    q.id = int32_t(proc::sysvipcField(row, "msqid"));
    q.key = int32_t(proc::sysvipcField(row, "key"));
    q.mode = uint32_t(proc::sysvipcField(row, "perms")) & 0777;
    q.uid = uint32_t(proc::sysvipcField(row, "uid"));
    q.gid = uint32_t(proc::sysvipcField(row, "gid"));
    msqid_ds ds{};
    if (msgctl(q.id, IPC_STAT, &ds) != 0) {
      if (errno == EINVAL || errno == EIDRM) continue;  // removed meanwhile
      throwErrno("reading " + describe(q.id, q.key));
    }
    q.qbytes = ds.msg_qbytes;
    std::string data;
    for (auto& m : copyMessages(q.id, q.key)) {
      q.messages.push_back({m.type, m.bytes.size()});
      data += m.bytes;
    }
    q.data_size = data.size();
    if (!data.empty()) {
      q.data_file = fmt::format("sysv-msg-{}.img", q.id);
      auto w = writer.dataFile(q.data_file).append(data.data(), data.size());
      q.data_xxh3 = w.xxh3;
    }
    log::debug("{}: {} messages, {} bytes", describe(q.id, q.key), q.messages.size(), data.size());
    img.sysv_msgs.push_back(std::move(q));
  }
}

void restoreSysvMsgs(const image::Image& img, const std::string& imageDir, TreeBuilder& tree,
                     const ScratchLayout& scratch, CreatedSysvObjects& created) {
  for (const auto& q : img.sysv_msgs) {
    const std::string what = describe(q.id, q.key);
    std::vector<Message> messages = savedMessages(q, imageDir);
    int id = createWithId("msg", q.id, [&] {
      return msgget(q.key ? key_t(q.key) : IPC_PRIVATE, int(q.mode) | IPC_CREAT | IPC_EXCL);
    });
    int err = errno;
    if (id >= 0 && id != q.id) {
      // The kernel moves on to the next free id when that one is taken:
      // by the object itself, left from the dump, or by another one.
      msgctl(id, IPC_RMID, nullptr);
      id = -1;
      err = EEXIST;
    }
    if (id < 0) {
      // Left from the dump: kept if it holds exactly the saved messages.
      // Never emptied to make room: its messages may be newer than the image.
      msqid_ds ds{};
      if (msgctl(q.id, IPC_STAT, &ds) != 0 || ds.msg_perm.__key != q.key)
        throw SysError(fmt::format("recreating {}: its key or id is taken by another object; "
                                   "remove that (ipcrm) to restore",
                                   what),
                       err);
      if (!sameMessages(copyMessages(q.id, q.key), messages))
        throw Error(
            fmt::format("{} is still there and holds other messages than the image; "
                        "remove it (ipcrm -q {}) to restore the image's",
                        what, q.id));
      log::info("reusing {} left from the dump", what);
      setQueueAttrs(q, what, true);
      continue;
    }
    created.addMsg(id);
    uint64_t total = 0;
    for (const auto& m : messages) total += m.bytes.size();
    msqid_ds ds{};
    if (msgctl(id, IPC_STAT, &ds) != 0) throwErrno("reading back " + what);
    bool raise = q.qbytes > ds.msg_qbytes;  // first, so that the messages fit
    if (raise) setQueueAttrs(q, what, true);
    // The last receiver and sender, from inside them where they are ours: a
    // message that the sender sends and the receiver takes sets both pids.
    RemoteSyscalls* sender = sessionOf(tree, q.lspid);
    RemoteMemory senderMem(sender ? q.lspid : getpid());
    if (RemoteSyscalls* receiver = sessionOf(tree, q.lrpid)) {
      RemoteMemory mem(q.lrpid);
      if (sender)
        send(sender, &senderMem, scratch, id, Message{1, "r"}, what);
      else
        send(receiver, &mem, scratch, id, Message{1, "r"}, what);
      receiver->check("receiving from " + what, SYS_msgrcv, uint64_t(id), scratch.data().addr(), 1,
                      0, IPC_NOWAIT);
    }
    for (const auto& m : messages)
      send(sender, sender ? &senderMem : nullptr, scratch, id, m, what);
    if (total > std::max<uint64_t>(q.qbytes, ds.msg_qbytes))
      log::warn("{} holds more bytes than its limit", what);
    setQueueAttrs(q, what, !raise);
  }
}

}  // namespace ckpt::ipc
