// SysV message queues: a keyed queue with a lowered byte limit holding four
// messages of several types and sizes (one empty, one binary), the last sent
// by a child and one taken by the parent, and a private queue left empty.
// After SIGUSR1: same ids, key, mode, limit, last sender and receiver, and
// the same messages in the same order.
#include <sys/msg.h>
#include <sys/wait.h>

#include <string>
#include <vector>

#include "zdtm.hpp"

namespace {

struct Msg {
  long type;
  std::string bytes;
};

std::vector<Msg> messages() {
  std::string binary(4000, '\0');
  zdtm::fillPattern(binary.data(), binary.size(), 77);
  return {{5, "first"}, {1, ""}, {5, binary}, {3, std::string("tail\0end", 8)}};
}

void sendOrDie(int id, const Msg& m) {
  std::vector<char> buf(sizeof(long) + m.bytes.size());
  memcpy(buf.data(), &m.type, sizeof(long));
  memcpy(buf.data() + sizeof(long), m.bytes.data(), m.bytes.size());
  if (msgsnd(id, buf.data(), m.bytes.size(), IPC_NOWAIT) != 0) zdtm::die("msgsnd");
}

}  // namespace

int main() {
  key_t key = key_t(0x6b720000 | (getpid() & 0xfffff));
  int id = msgget(key, IPC_CREAT | IPC_EXCL | 0620);
  int priv = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id < 0 || priv < 0) zdtm::die("msgget");
  msqid_ds ds{};
  if (msgctl(id, IPC_STAT, &ds) != 0) zdtm::die("IPC_STAT");
  ds.msg_qbytes = 8000;
  if (msgctl(id, IPC_SET, &ds) != 0) zdtm::die("IPC_SET");
  auto want = messages();
  sendOrDie(id, {99, "taken"});
  for (size_t i = 0; i + 1 < want.size(); ++i) sendOrDie(id, want[i]);
  pid_t child = fork();
  if (child < 0) zdtm::die("fork");
  if (child == 0) {
    zdtm::closeReadyFdInChild();
    sendOrDie(id, want.back());  // the last sender stays in the tree
    zdtm::waitForSigusr1(zdtm::Wait::Sigsuspend);
    _exit(0);
  }
  while (msgctl(id, IPC_STAT, &ds) == 0 && ds.msg_lspid != child) {
    if (waitpid(child, nullptr, WNOHANG) != 0) zdtm::die("child died");
    usleep(1000);
  }
  char buf[64];
  if (msgrcv(id, buf, 32, 99, IPC_NOWAIT) != 5) zdtm::die("msgrcv 99");
  sendOrDie(priv, {1, "x"});
  if (msgrcv(priv, buf, 32, 0, IPC_NOWAIT) != 1) zdtm::die("msgrcv priv");

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  CHECK(msgget(key, 0) == id, "key 0x%x now names queue %d, not %d", key, msgget(key, 0), id);
  msqid_ds now{};
  if (CHECK(msgctl(id, IPC_STAT, &now) == 0, "queue %d is gone: %s", id, strerror(errno))) {
    CHECK((now.msg_perm.mode & 0777) == 0620, "mode %o", now.msg_perm.mode & 0777);
    CHECK(now.msg_qbytes == 8000, "byte limit %lu", static_cast<unsigned long>(now.msg_qbytes));
    CHECK(now.msg_qnum == want.size(), "%lu messages", static_cast<unsigned long>(now.msg_qnum));
    CHECK(now.msg_lrpid == getpid(), "last receiver %d", now.msg_lrpid);
    CHECK(now.msg_lspid == child, "last sender %d, not %d", now.msg_lspid, child);
  }
  std::vector<char> big(sizeof(long) + 8192);
  for (size_t i = 0; i < want.size(); ++i) {
    ssize_t n = msgrcv(id, big.data(), 8192, 0, IPC_NOWAIT);
    if (!CHECK(n >= 0, "message %zu is missing: %s", i, strerror(errno))) break;
    long type;
    memcpy(&type, big.data(), sizeof type);
    CHECK(type == want[i].type, "message %zu has type %ld, not %ld", i, type, want[i].type);
    CHECK(std::string(big.data() + sizeof(long), size_t(n)) == want[i].bytes,
          "message %zu: %zd bytes differ from the %zu sent", i, n, want[i].bytes.size());
  }
  msqid_ds p{};
  if (CHECK(msgctl(priv, IPC_STAT, &p) == 0, "private queue %d is gone", priv)) {
    CHECK(p.msg_qnum == 0, "private queue holds %lu messages", (unsigned long)p.msg_qnum);
    CHECK(p.msg_lspid == getpid() && p.msg_lrpid == getpid(), "private queue pids %d/%d",
          p.msg_lspid, p.msg_lrpid);
  }
  kill(child, SIGUSR1);
  waitpid(child, nullptr, 0);
  msgctl(id, IPC_RMID, nullptr);
  msgctl(priv, IPC_RMID, nullptr);
  return zdtm::finish();
}
