// Shared part of the zdtm-style test programs: the protocol with the harness
// (announce "ready", wait for SIGUSR1, report PASS or one line per failure)
// and small helpers (patterns, temp paths, /proc/self/maps, fault probes).
//
// Protocol: the harness starts a program with stdin /dev/null, stdout and
// stderr appended to a log, CKPT_READY_FD=N (write end of a pipe) and
// CKPT_TEST_DIR (a scratch directory). The program builds its state, writes
// "ready\n" to fd N and closes it, waits for SIGUSR1 (the dump and restore
// happen then), checks its state and exits 0 (all held) or 1. Setup errors
// exit 2 before "ready". Run by hand without CKPT_READY_FD, a program prints
// its pid and waits the same way.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace zdtm {

// ---- Reporting -------------------------------------------------------------

// Number of failed checks in this process; threads may report concurrently.
inline std::atomic<int> g_failures{0};

// One failure, one line, written with a single write(2) so that lines from
// several threads or processes sharing the log do not interleave.
[[gnu::format(printf, 1, 2)]] inline void fail(const char* fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(STDERR_FILENO, "FAIL [pid %d]: %s\n", getpid(), msg);
  g_failures.fetch_add(1);
}

// Setup could not build the state: not a checkpoint failure. Exit 2 before
// "ready" so the harness sees the pipe close without "ready".
[[noreturn, gnu::format(printf, 1, 2)]] inline void die(const char* fmt, ...) {
  int err = errno;
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  dprintf(STDERR_FILENO, "SETUP ERROR [pid %d]: %s (errno %d: %s)\n", getpid(), msg, err,
          strerror(err));
  _exit(2);
}

// Prints PASS when no check failed; returns the exit status.
inline int finish() {
  int n = g_failures.load();
  if (n == 0) {
    dprintf(STDERR_FILENO, "PASS\n");
    return 0;
  }
  dprintf(STDERR_FILENO, "FAILED [pid %d]: %d check(s)\n", getpid(), n);
  return 1;
}

}  // namespace zdtm

// CHECK(cond, fmt, ...): reports a failure (with the condition's text) when
// cond is false; returns cond so callers can skip dependent checks. The
// condition is evaluated first, the message arguments only after a failure
// (so they show what the condition saw, e.g. a status it filled in).
#define CHECK(cond, ...)                      \
  ([&]() -> bool {                            \
    if (static_cast<bool>(cond)) return true; \
    ::zdtm::checkFailed(#cond, __VA_ARGS__);  \
    return false;                             \
  }())

namespace zdtm {

[[gnu::format(printf, 2, 3)]] inline void checkFailed(const char* what, const char* fmt, ...) {
  char msg[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fail("%s [%s]", msg, what);
}

// ---- The ready/SIGUSR1 protocol ------------------------------------------

namespace detail {
inline int& readyFd() {
  static int fd = [] {
    const char* s = getenv("CKPT_READY_FD");
    return s ? atoi(s) : -1;
  }();
  return fd;
}
inline volatile sig_atomic_t g_usr1 = 0;
inline sigjmp_buf g_pauseJump;
inline volatile sig_atomic_t g_pauseArmed = 0;
inline int g_wakePipe[2] = {-1, -1};

inline void onUsr1Flag(int) {
  g_usr1 = 1;
}
inline void onUsr1Jump(int) {
  g_usr1 = 1;
  if (g_pauseArmed) siglongjmp(g_pauseJump, 1);
}
inline void onUsr1Wake(int) {
  int saved = errno;
  g_usr1 = 1;
  char c = 'u';
  (void)!write(g_wakePipe[1], &c, 1);
  errno = saved;
}
inline void setHandler(int sig, void (*fn)(int), int flags) {
  struct sigaction sa {};
  sa.sa_handler = fn;
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, nullptr) != 0) die("sigaction(%d)", sig);
}
inline void setBlocked(int sig, bool block) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  if (pthread_sigmask(block ? SIG_BLOCK : SIG_UNBLOCK, &s, nullptr) != 0)
    die("pthread_sigmask(%d)", sig);
}
}  // namespace detail

// Tells the harness the state is built, and closes the pipe so that nothing
// outside the tree stays reachable through an fd.
inline void ready() {
  int& fd = detail::readyFd();
  if (fd >= 0) {
    static const char msg[] = "ready\n";
    if (write(fd, msg, sizeof msg - 1) != static_cast<ssize_t>(sizeof msg - 1))
      die("write ready to fd %d", fd);
    close(fd);
  } else {
    dprintf(STDERR_FILENO, "ready: pid %d waits for SIGUSR1\n", getpid());
  }
  fd = -1;
}

// The ready fd's number while it is open (-1 after ready()).
inline int readyFdNumber() {
  return detail::readyFd();
}

// A child forked before ready() inherits the ready fd: it must close its copy,
// or the harness would see the pipe open past "ready" (and the dump an fd to
// outside the tree).
inline void closeReadyFdInChild() {
  int& fd = detail::readyFd();
  if (fd >= 0) close(fd);
  fd = -1;
}

// Forks a process of the tree that will wait for SIGUSR1 with sigwaitinfo:
// SIGUSR1 is blocked first (in the caller too, so none is lost before the
// wait), and the child drops the ready fd. Returns fork()'s result.
inline pid_t forkBlockingUsr1() {
  detail::setBlocked(SIGUSR1, true);
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) closeReadyFdInChild();
  return child;
}

// How a program waits for SIGUSR1; programs vary it so that the dump meets
// threads stopped in different places.
enum class Wait {
  Sigsuspend,   // blocked, then sigsuspend() with it unblocked (race-free)
  Sigwaitinfo,  // blocked, sigwaitinfo(); caller blocks it in every thread first
  Pause,        // handler + pause(); the handler longjmps out, so no lost wakeup
  Spin,         // handler sets a flag; busy loop in user space, no system call
  Read,         // handler writes to a self-pipe; read() blocks on the other end
};

namespace detail {
inline void waitImpl(Wait how, bool announce) {
  g_usr1 = 0;
  switch (how) {
    case Wait::Sigsuspend: {
      setBlocked(SIGUSR1, true);
      setHandler(SIGUSR1, onUsr1Flag, 0);
      if (announce) ready();
      sigset_t during;
      pthread_sigmask(SIG_SETMASK, nullptr, &during);
      sigdelset(&during, SIGUSR1);
      while (!g_usr1) sigsuspend(&during);
      setBlocked(SIGUSR1, false);
      break;
    }
    case Wait::Sigwaitinfo: {
      setBlocked(SIGUSR1, true);
      if (announce) ready();
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGUSR1);
      siginfo_t si;
      int r;
      while ((r = sigwaitinfo(&set, &si)) != SIGUSR1) {
        if (r < 0 && errno != EINTR) die("sigwaitinfo");
      }
      g_usr1 = 1;
      break;
    }
    case Wait::Pause: {
      setHandler(SIGUSR1, onUsr1Jump, 0);
      if (sigsetjmp(g_pauseJump, 1) == 0) {
        g_pauseArmed = 1;
        setBlocked(SIGUSR1, false);
        if (announce) ready();
        for (;;) pause();
      }
      g_pauseArmed = 0;
      break;
    }
    case Wait::Spin: {
      setHandler(SIGUSR1, onUsr1Flag, 0);
      setBlocked(SIGUSR1, false);
      if (announce) ready();
      while (!g_usr1) __builtin_ia32_pause();
      break;
    }
    case Wait::Read: {
      if (pipe2(g_wakePipe, O_CLOEXEC) != 0) die("pipe2");
      setHandler(SIGUSR1, onUsr1Wake, SA_RESTART);
      setBlocked(SIGUSR1, false);
      if (announce) ready();
      char c;
      ssize_t n;
      while ((n = read(g_wakePipe[0], &c, 1)) != 1) {
        if (n < 0 && errno != EINTR) die("read wake pipe");
      }
      close(g_wakePipe[0]);
      close(g_wakePipe[1]);
      break;
    }
  }
}
}  // namespace detail

// Announces ready, then returns once SIGUSR1 has arrived.
inline void readyAndWait(Wait how) {
  detail::waitImpl(how, true);
}
// The same without announcing: for the other processes of a tree.
inline void waitForSigusr1(Wait how) {
  detail::waitImpl(how, false);
}

// ---- Helpers ----------------------------------------------------------------

// The scratch directory given by the harness (or a new one under /tmp).
inline const std::string& testDir() {
  static std::string dir = [] {
    if (const char* d = getenv("CKPT_TEST_DIR"); d && *d) return std::string(d);
    char tmpl[] = "/tmp/zdtm-XXXXXX";
    if (!mkdtemp(tmpl)) die("mkdtemp");
    return std::string(tmpl);
  }();
  return dir;
}
inline std::string testPath(const std::string& name) {
  return testDir() + "/" + name;
}

// A position-dependent 64-bit pattern (splitmix64 of seed and index).
inline uint64_t pattern(uint64_t seed, uint64_t index) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + index + 1;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
inline void fillPattern(void* p, size_t bytes, uint64_t seed) {
  auto* w = static_cast<uint64_t*>(p);
  for (size_t i = 0; i < bytes / 8; i++) w[i] = pattern(seed, i);
}
// Returns the byte offset of the first 8-byte word that differs, or -1.
inline long findPatternMismatch(const void* p, size_t bytes, uint64_t seed) {
  auto* w = static_cast<const uint64_t*>(p);
  for (size_t i = 0; i < bytes / 8; i++)
    if (w[i] != pattern(seed, i)) return static_cast<long>(i * 8);
  return -1;
}
inline bool allBytes(const void* p, size_t bytes, unsigned char v) {
  auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; i++)
    if (b[i] != v) return false;
  return true;
}

// Whole content of a (small, /proc) file; nullopt if it cannot be read.
inline std::optional<std::string> readFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  if (n < 0) return std::nullopt;
  return out;
}

inline void writeFileOrDie(const std::string& path, const void* data, size_t len) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("create %s", path.c_str());
  if (write(fd, data, len) != static_cast<ssize_t>(len)) die("write %s", path.c_str());
  close(fd);
}

// One line of /proc/self/maps.
struct Mapping {
  uintptr_t start = 0, end = 0;
  std::string perms;  // "rw-p"
  uint64_t offset = 0;
  std::string path;
};
inline std::vector<Mapping> readMaps() {
  std::vector<Mapping> out;
  auto text = readFile("/proc/self/maps");
  if (!text) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t eol = text->find('\n', pos);
    if (eol == std::string::npos) eol = text->size();
    std::string line = text->substr(pos, eol - pos);
    pos = eol + 1;
    Mapping m;
    char perms[8] = {};
    unsigned long long start, end, off;
    int pathAt = 0;
    if (sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &pathAt) <
        4)
      continue;
    m.start = start;
    m.end = end;
    m.perms = perms;
    m.offset = off;
    if (pathAt > 0 && static_cast<size_t>(pathAt) <= line.size()) m.path = line.substr(pathAt);
    out.push_back(m);
  }
  return out;
}
inline std::optional<Mapping> mappingAt(const void* addr) {
  auto a = reinterpret_cast<uintptr_t>(addr);
  for (auto& m : readMaps())
    if (a >= m.start && a < m.end) return m;
  return std::nullopt;
}

// Does touching addr fault (SIGSEGV)? Probes with a temporary handler.
namespace detail {
inline sigjmp_buf g_probeJump;
inline void onProbeFault(int) {
  siglongjmp(g_probeJump, 1);
}
}  // namespace detail
inline bool faults(volatile char* addr, bool write) {
  struct sigaction sa {
  }, oldSegv, oldBus;
  sa.sa_handler = detail::onProbeFault;
  sa.sa_flags = SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &oldSegv);
  sigaction(SIGBUS, &sa, &oldBus);
  bool faulted = false;
  if (sigsetjmp(detail::g_probeJump, 1) == 0) {
    if (write)
      *addr = *addr;
    else
      (void)*addr;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &oldSegv, nullptr);
  sigaction(SIGBUS, &oldBus, nullptr);
  return faulted;
}

// Reads n bytes that must already be queued on a socket (waits at most 2 s
// per piece); returns what came, which the caller compares.
inline std::string readQueued(int fd, size_t n) {
  std::string out;
  std::vector<char> buf(n ? n : 1);
  while (out.size() < n) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 2000) != 1) break;
    ssize_t r = recv(fd, buf.data(), n - out.size(), MSG_DONTWAIT);
    if (r <= 0) break;
    out.append(buf.data(), static_cast<size_t>(r));
  }
  return out;
}

}  // namespace zdtm
