// Taking a display number and writing the proxy's Xauthority file.
#include "x11proxy/proxy/ListenDisplay.hpp"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "core/util/Error.hpp"

namespace ckpt::x11 {
namespace {

UniqueFd listenOn(const std::string& name, bool abstract) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throwErrno("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::size_t off = abstract ? 1 : 0;
  std::memcpy(addr.sun_path + off, name.data(), name.size());
  socklen_t len = socklen_t(offsetof(sockaddr_un, sun_path) + off + name.size());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return UniqueFd();
  if (::listen(fd.get(), 64) != 0) throwErrno("listen on " + name);
  return fd;
}

// A lock file names a live X server (or proxy) when its pid is alive.
bool staleLock(const std::string& path) {
  std::ifstream f(path);
  long pid = 0;
  if (!(f >> pid) || pid <= 0) return false;
  return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH;
}

}  // namespace

ListenDisplay::ListenDisplay(int first) {
  ::mkdir("/tmp/.X11-unix", 01777);
  constexpr int kRange = 1000;
  int start = int(::getpid() % kRange);
  for (int i = 0; i < kRange; ++i)
    if (tryTake(first + (start + i) % kRange)) return;
  throw Error("no free X display number from :" + std::to_string(first));
}

bool ListenDisplay::tryTake(int n) {
  std::string lock = "/tmp/.X" + std::to_string(n) + "-lock";
  UniqueFd fd(::open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd) {
    if (errno != EEXIST || !staleLock(lock)) return false;
    ::unlink(lock.c_str());
    fd.reset(::open(lock.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
    if (!fd) return false;
  }
  char pid[16];
  int len = std::snprintf(pid, sizeof pid, "%10d\n", int(::getpid()));
  if (::write(fd.get(), pid, std::size_t(len)) != len) {
    ::unlink(lock.c_str());
    return false;
  }
  std::string sock = "/tmp/.X11-unix/X" + std::to_string(n);
  UniqueFd abstractFd = listenOn(sock, true);
  if (!abstractFd) {  // someone holds the abstract name without a lock file
    ::unlink(lock.c_str());
    return false;
  }
  ::unlink(sock.c_str());  // ours now: we hold the lock
  UniqueFd pathFd = listenOn(sock, false);
  if (!pathFd) {
    ::unlink(lock.c_str());
    return false;
  }
  number_ = n;
  lockPath_ = lock;
  socketPath_ = sock;
  path_ = std::move(pathFd);
  abstract_ = std::move(abstractFd);
  return true;
}

ListenDisplay::~ListenDisplay() {
  if (number_ < 0) return;
  ::unlink(socketPath_.c_str());
  ::unlink(lockPath_.c_str());
}

AuthFile::AuthFile(int display) {
  char tmpl[] = "/tmp/ckpt-x11-XXXXXX";
  if (!::mkdtemp(tmpl)) throwErrno("mkdtemp");
  dir_ = tmpl;
  path_ = dir_ + "/Xauthority";
  cookie_.resize(16);
  if (::getrandom(cookie_.data(), cookie_.size(), 0) != ssize_t(cookie_.size()))
    throwErrno("getrandom");
  char host[HOST_NAME_MAX + 1] = {};
  ::gethostname(host, sizeof host - 1);
  // Xauthority entries: family, address, display number, name, data; each
  // counted string has a 16-bit big-endian length. One entry for this host
  // (FamilyLocal, what Xlib looks for first) and one wildcard.
  std::string out;
  auto counted = [&](const std::string& s) {
    out.push_back(char(s.size() >> 8));
    out.push_back(char(s.size() & 0xff));
    out += s;
  };
  for (unsigned family : {256u, 65535u}) {
    out.push_back(char(family >> 8));
    out.push_back(char(family & 0xff));
    counted(family == 256 ? host : "");
    counted(std::to_string(display));
    counted("MIT-MAGIC-COOKIE-1");
    counted(cookie_);
  }
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throwErrno("create " + path_);
  if (::write(fd.get(), out.data(), out.size()) != ssize_t(out.size()))
    throwErrno("write " + path_);
}

AuthFile::~AuthFile() {
  ::unlink(path_.c_str());
  ::rmdir(dir_.c_str());
}

}  // namespace ckpt::x11
