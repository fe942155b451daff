// Saving and re-taking POSIX, OFD and flock locks.
#include "core/ipc/FileLocks.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/syscall.h>

#include <set>
#include <tuple>

#include <fmt/format.h>

#include "core/image/Manifest.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/restore/RestoredProcess.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::ipc {
namespace {

std::vector<std::string> lockLines(const proc::FdInfo& info) {
  std::vector<std::string> out;
  if (auto it = info.fields.find("lock"); it != info.fields.end()) out.push_back(it->second);
  if (auto it = info.records.find("lock"); it != info.records.end())
    for (const auto& raw : it->second) {
      auto colon = raw.find(':');
      out.push_back(colon == std::string::npos ? raw : raw.substr(colon + 1));
    }
  return out;
}

std::string range(const image::FileLock& l) {
  if (l.kind == image::LockKind::Flock) return "the whole file";
  return l.len ? fmt::format("bytes {}-{}", l.start, l.start + l.len - 1)
               : fmt::format("bytes {} to the end", l.start);
}

std::string fdPath(pid_t pid, int fd) {
  char buf[4096];
  std::string link = fmt::format("/proc/{}/fd/{}", pid, fd);
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string("?");
}

}  // namespace

void dumpFileLocks(image::Image& img) {
  // A lock shows on every fd that shares its description: keep it once.
  std::set<std::tuple<pid_t, int, image::LockKind, int64_t, int64_t>> posixSeen;
  std::set<std::tuple<int, image::LockKind, int64_t, int64_t>> descSeen;
  for (const auto& p : img.processes) {
    if (p.zombie) continue;
    for (const auto& e : p.fds) {
      std::string path = fmt::format("/proc/{}/fdinfo/{}", p.pid, e.fd);
      std::vector<std::string> lines = lockLines(proc::parseFdinfo(proc::readProcFile(path)));
      for (const auto& line : lines) {
        proc::LockLine l = proc::parseLockLine(line);
        if (l.blocked || l.type == "UNLCK") continue;
        const std::string where =
            fmt::format("pid {} fd {} ({})", p.pid, e.fd, fdPath(p.pid, e.fd));
        if (l.cls == "LEASE" || l.cls == "DELEG" || l.cls == "BREAKING")
          throw Error(
              fmt::format("{}: holds a file lease, which ckpt cannot take again at "
                          "restore; release it (fcntl F_SETLEASE, F_UNLCK) before dumping",
                          where));
        if (l.mode == "MANDATORY")
          throw Error(
              fmt::format("{}: holds a mandatory lock, which ckpt does not restore", where));
        image::FileLock fl;
        fl.pid = p.pid;
        fl.fd = e.fd;
        fl.write = l.type == "WRITE";
        fl.start = l.start;
        fl.len = l.end ? *l.end - l.start + 1 : 0;
        if (l.cls == "POSIX") {
          fl.kind = image::LockKind::Posix;
          if (!posixSeen.emplace(p.pid, e.file, fl.kind, fl.start, fl.len).second) continue;
        } else if (l.cls == "OFDLCK" || l.cls == "FLOCK") {
          fl.kind = l.cls == "FLOCK" ? image::LockKind::Flock : image::LockKind::Ofd;
          if (!descSeen.emplace(e.file, fl.kind, fl.start, fl.len).second) continue;
        } else {
          throw Error(
              fmt::format("{}: holds a lock of a kind ckpt does not know ({})", where, l.cls));
        }
        log::debug("{}: {} {} lock on {}", where, image::lockKindName(fl.kind),
                   fl.write ? "write" : "read", range(fl));
        img.locks.push_back(fl);
      }
    }
  }
}

void restoreFileLocks(RestoredProcess& p, const ScratchLayout& s, const image::Image& img) {
  RemoteMemory mem(p.pid);
  for (const auto& l : img.locks) {
    if (l.pid != p.pid) continue;
    long r;
    if (l.kind == image::LockKind::Flock) {
      r = p.main->call(SYS_flock, uint64_t(l.fd),
                       uint64_t((l.write ? LOCK_EX : LOCK_SH) | LOCK_NB));
    } else {
      struct flock fl {};
      fl.l_type = l.write ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = l.start;
      fl.l_len = l.len;
      mem.writeValue(s.data(), fl);
      r = p.main->call(SYS_fcntl, uint64_t(l.fd),
                       uint64_t(l.kind == image::LockKind::Ofd ? F_OFD_SETLK : F_SETLK),
                       s.data().addr());
    }
    if (r == 0) continue;
    const std::string what = fmt::format(
        "pid {} fd {} ({}): taking its {} {} lock on {} again", p.pid, l.fd, fdPath(p.pid, l.fd),
        image::lockKindName(l.kind), l.write ? "write" : "read", range(l));
    if (r == -EAGAIN || r == -EACCES || r == -EWOULDBLOCK)
      throw Error(what +
                  ": another process holds a conflicting lock now (see /proc/locks); "
                  "stop it or release that lock, then restore again");
    throw SysError(what, int(-r));
  }
}

}  // namespace ckpt::ipc
