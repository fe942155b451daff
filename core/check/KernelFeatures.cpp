// Kernel feature detection: each check tries one feature the way dump or
// restore uses it and says in one line what came of it.
#include "core/check/KernelFeatures.hpp"

#include <cpuid.h>
#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <linux/kcmp.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::check {
namespace {

// Newer than Debian 12's kernel headers (6.1); values from the kernel's uapi.
constexpr uint64_t kUffdFeatureWpUnpopulated = 1ull << 13;
constexpr uint64_t kUffdFeatureWpAsync = 1ull << 15;
constexpr uint64_t kUffdFeatureMove = 1ull << 16;
constexpr int kUffdUserModeOnly = 1;

struct PageRegion {
  uint64_t start;
  uint64_t end;
  uint64_t categories;
};
struct PmScanArg {
  uint64_t size;
  uint64_t flags;
  uint64_t start;
  uint64_t end;
  uint64_t walkEnd;
  uint64_t vec;
  uint64_t vecLen;
  uint64_t maxPages;
  uint64_t categoryInverted;
  uint64_t categoryMask;
  uint64_t categoryAnyofMask;
  uint64_t returnMask;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t kPageIsWritten = 1 << 1;
constexpr uint64_t kPageIsPresent = 1 << 3;
constexpr uint64_t kPmScanWpMatching = 1 << 0;
constexpr uint64_t kPmScanCheckWpAsync = 1 << 1;

// clone3's argument, up to set_tid (CLONE_ARGS_SIZE_VER1); glibc 2.36 has no clone3.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;
  uint64_t childTid;
  uint64_t parentTid;
  uint64_t exitSignal;
  uint64_t stack;
  uint64_t stackSize;
  uint64_t tls;
  uint64_t setTid;
  uint64_t setTidSize;
};
static_assert(sizeof(CloneArgs) == 80);

// /proc/PID/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
constexpr uint64_t kPmPresent = 1ull << 63;
constexpr uint64_t kPmSwapped = 1ull << 62;
constexpr uint64_t kPmExclusive = 1ull << 56;
constexpr uint64_t kPmSoftDirty = 1ull << 55;
constexpr uint64_t kPmUffdWp = 1ull << 57;
constexpr uint64_t kPmPfnMask = (1ull << 55) - 1;

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

struct Outcome {
  bool ok;
  std::string detail;
};
Outcome ok(std::string detail) {
  return {true, std::move(detail)};
}
Outcome missing(std::string detail) {
  return {false, std::move(detail)};
}

// "what: EPERM (Operation not permitted)" for the current errno.
std::string sysText(std::string_view what, int err = errno) {
  const char* name = strerrorname_np(err);
  return fmt::format("{}: {} ({})", what, name ? name : "?", std::strerror(err));
}

std::string readSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A private anonymous mapping, unmapped on every path.
class Mapping {
 public:
  explicit Mapping(size_t len) : len_(len) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throwErrno("mmap");
    addr_ = static_cast<char*>(p);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping() { munmap(addr_, len_); }
  char* addr() const { return addr_; }
  size_t len() const { return len_; }
  void touchAll() {
    for (size_t off = 0; off < len_; off += kPage) addr_[off] = 1;
  }

 private:
  char* addr_ = nullptr;
  size_t len_ = 0;
};

// Reads the pagemap entry of one page (of this process or another).
bool pagemapEntry(int pagemapFd, const void* addr, uint64_t& entry) {
  off_t off = static_cast<off_t>(reinterpret_cast<uintptr_t>(addr) / kPage * sizeof(uint64_t));
  return pread(pagemapFd, &entry, sizeof entry, off) == static_cast<ssize_t>(sizeof entry);
}

// Waits up to `timeout` for a wait status of `pid` (any kind, __WALL).
bool waitStatus(pid_t pid, int& status, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    pid_t r = waitpid(pid, &status, __WALL | WNOHANG);
    if (r == pid) return true;
    if (r < 0 && errno != EINTR) return false;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// A forked child to look at from outside, as dump looks at a program: it
// blocks SIGUSR2, writes a cookie into a page of its own, says it is ready
// through a pipe (whose both ends it keeps) and waits. Killed and reaped in
// the destructor, traced or not.
class Subject {
 public:
  Subject() : page_(kPage) {
    cookie_ = 0x636b707400000000ull ^ static_cast<uint64_t>(getpid()) ^
              static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throwErrno("pipe2");
    readEnd_.reset(fds[0]);
    UniqueFd writeEnd(fds[1]);
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throwErrno("fork");
    if (pid_ == 0) childMain(parent, fds[1]);
    childWriteFd_ = fds[1];
    writeEnd.reset();
    pollfd p{readEnd_.get(), POLLIN, 0};
    char c;
    if (poll(&p, 1, 5000) != 1 || read(readEnd_.get(), &c, 1) != 1) {
      reap();
      throw Error("the test child did not start");
    }
  }
  Subject(const Subject&) = delete;
  Subject& operator=(const Subject&) = delete;
  ~Subject() { reap(); }

  pid_t pid() const { return pid_; }
  // The page the child wrote its cookie into (same address in both processes;
  // the parent's copy stays zero).
  const void* page() const { return page_.addr(); }
  uint64_t cookie() const { return cookie_; }
  // The pipe's write end, by its number inside the child (closed in ckpt).
  int childWriteFd() const { return childWriteFd_; }
  // The pipe's read end: open in ckpt and, as the same description, in the child.
  int readFd() const { return readEnd_.get(); }

  // PTRACE_SEIZE + PTRACE_INTERRUPT, then waits for the stop. Returns an
  // empty string on success, else why it failed.
  std::string seizeAndStop() {
    if (ptrace(PTRACE_SEIZE, pid_, nullptr, PTRACE_O_EXITKILL) != 0) {
      std::string why = sysText("PTRACE_SEIZE");
      std::string yama = readSmallFile("/proc/sys/kernel/yama/ptrace_scope");
      if (!yama.empty()) why += fmt::format("; kernel.yama.ptrace_scope = {}", yama.substr(0, 1));
      return why;
    }
    if (ptrace(PTRACE_INTERRUPT, pid_, nullptr, nullptr) != 0) return sysText("PTRACE_INTERRUPT");
    int status = 0;
    if (!waitStatus(pid_, status, std::chrono::seconds(2)))
      return "the child did not stop within 2 s of PTRACE_INTERRUPT";
    if (!WIFSTOPPED(status) || (status >> 16) != PTRACE_EVENT_STOP)
      return fmt::format("unexpected wait status {:#x} after PTRACE_INTERRUPT", status);
    return {};
  }

 private:
  [[noreturn]] void childMain(pid_t parent, int writeFd) {
    // Only async-signal-safe calls here: the caller may have threads.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    *reinterpret_cast<volatile uint64_t*>(page_.addr()) = cookie_;
    char c = 'r';
    if (write(writeFd, &c, 1) != 1) _exit(1);
    for (;;) pause();
  }

  void reap() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    int status;
    while (waitpid(pid_, &status, __WALL) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  Mapping page_;
  uint64_t cookie_ = 0;
  UniqueFd readEnd_;
  int childWriteFd_ = -1;
  pid_t pid_ = -1;
};

// Runs fn in a forked child (async-signal-safe calls only) and returns its
// exit code, or -1 if it did not exit normally within 5 s.
template <typename Fn>
int inChild(Fn fn) {
  pid_t pid = fork();
  if (pid < 0) throwErrno("fork");
  if (pid == 0) _exit(fn());
  int status = 0;
  if (!waitStatus(pid, status, std::chrono::seconds(5))) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// --- the checks, in the order of `ckpt check` ---

Outcome ptraceSeizeInterrupt() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing(why);
  return ok("seized a forked child and stopped it with PTRACE_INTERRUPT");
}

// XCR0: the state components XSAVE covers on this machine (0 without OSXSAVE).
uint64_t readXcr0() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return 0;
  uint32_t lo = 0, hi = 0;
  asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return lo | static_cast<uint64_t>(hi) << 32;
}

Outcome ptraceXstate() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing("cannot trace: " + why);
  std::vector<uint64_t> buf(64 * 1024 / sizeof(uint64_t));
  iovec iov{buf.data(), buf.size() * sizeof(uint64_t)};
  if (ptrace(PTRACE_GETREGSET, s.pid(), NT_X86_XSTATE, &iov) != 0)
    return missing(sysText("PTRACE_GETREGSET NT_X86_XSTATE"));
  if (iov.iov_len < 576) return missing(fmt::format("only {} bytes of xstate", iov.iov_len));
  // Which components the kernel saves is XCR0; the regset holds every one of them.
  uint64_t xcr0 = readXcr0();
  std::string parts;
  const std::pair<uint64_t, const char*> known[] = {
      {1ull << 0, "x87"},    {1ull << 1, "sse"},  {1ull << 2, "avx"},    {3ull << 3, "mpx"},
      {7ull << 5, "avx512"}, {1ull << 9, "pkru"}, {1ull << 11, "cet_u"}, {3ull << 17, "amx"},
  };
  for (const auto& [bits, name] : known)
    if (xcr0 & bits) parts += fmt::format(" {}", name);
  return ok(fmt::format("{} bytes; XCR0 {:#x}:{}", iov.iov_len, xcr0, parts));
}

Outcome ptraceGetSigmask() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing("cannot trace: " + why);
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, s.pid(), sizeof mask, &mask) != 0)
    return missing(sysText("PTRACE_GETSIGMASK"));
  if (!(mask & (1ull << (SIGUSR2 - 1))))
    return missing(fmt::format("read mask {:#x}, but it does not show SIGUSR2 blocked", mask));
  return ok(fmt::format("read the child's mask {:#x} (SIGUSR2 blocked, as it set)", mask));
}

Outcome ptracePeekSiginfo() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing("cannot trace: " + why);
  // One blocked SIGUSR2 in each queue: the process's (with a value) and the thread's.
  sigval value{};
  value.sival_int = 4242;
  if (sigqueue(s.pid(), SIGUSR2, value) != 0) return missing(sysText("sigqueue"));
  if (syscall(SYS_tgkill, s.pid(), s.pid(), SIGUSR2) != 0) return missing(sysText("tgkill"));
  auto peek = [&](uint32_t flags, siginfo_t& info) {
    __ptrace_peeksiginfo_args args{0, flags, 1};
    return ptrace(PTRACE_PEEKSIGINFO, s.pid(), &args, &info);
  };
  siginfo_t shared{};
  siginfo_t own{};
  long nShared = peek(PTRACE_PEEKSIGINFO_SHARED, shared);
  long nOwn = peek(0, own);
  if (nShared < 0 || nOwn < 0) return missing(sysText("PTRACE_PEEKSIGINFO"));
  if (nShared != 1 || shared.si_signo != SIGUSR2 || shared.si_value.sival_int != 4242)
    return missing("did not read back the SIGUSR2 queued to the process");
  if (nOwn != 1 || own.si_signo != SIGUSR2 || own.si_code != SI_TKILL)
    return missing("did not read back the SIGUSR2 sent to the thread");
  return ok("read back blocked SIGUSR2s from the process's and the thread's queues");
}

Outcome ptraceRseqConfig() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing("cannot trace: " + why);
  __ptrace_rseq_configuration conf{};
  long n = ptrace(PTRACE_GET_RSEQ_CONFIGURATION, s.pid(), sizeof conf, &conf);
  if (n < 0) return missing(sysText("PTRACE_GET_RSEQ_CONFIGURATION"));
  if (conf.rseq_abi_pointer == 0) return ok("works; the child has no rseq area registered");
  return ok(fmt::format("rseq area at {:#x}, {} bytes, signature {:#x}", conf.rseq_abi_pointer,
                        conf.rseq_abi_size, conf.signature));
}

Outcome ptraceSyscallInfo() {
  Subject s;
  if (auto why = s.seizeAndStop(); !why.empty()) return missing("cannot trace: " + why);
  __ptrace_syscall_info info{};
  long n = ptrace(PTRACE_GET_SYSCALL_INFO, s.pid(), sizeof info, &info);
  if (n <= 0) return missing(sysText("PTRACE_GET_SYSCALL_INFO"));
  const char* ops[] = {"none", "entry", "exit", "seccomp"};
  return ok(fmt::format("op {} at an interrupt stop, arch {:#x}, ip {:#x}",
                        info.op < 4 ? ops[info.op] : "?", info.arch, info.instruction_pointer));
}

Outcome processVmReadv() {
  Subject s;
  uint64_t got = 0;
  iovec local{&got, sizeof got};
  iovec remote{const_cast<void*>(s.page()), sizeof got};
  ssize_t n = process_vm_readv(s.pid(), &local, 1, &remote, 1, 0);
  if (n < 0) return missing(sysText("process_vm_readv"));
  if (n != sizeof got || got != s.cookie())
    return missing("read the child's page but not the value it wrote");
  return ok("read the value the child wrote after fork");
}

Outcome procPagemap() {
  Subject s;
  std::string path = fmt::format("/proc/{}/pagemap", s.pid());
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return missing(sysText("open " + path));
  uint64_t e = 0;
  if (!pagemapEntry(fd.get(), s.page(), e)) return missing(sysText("read " + path));
  if (!(e & (kPmPresent | kPmSwapped)))
    return missing("a page the child wrote shows neither present nor swapped");
  return ok(fmt::format("{}{}, PFN {}", (e & kPmPresent) ? "present" : "swapped",
                        (e & kPmExclusive) ? ", exclusive" : "",
                        (e & kPmPfnMask) ? "shown" : "hidden (needs CAP_SYS_ADMIN)"));
}

Outcome pidfdGetfd() {
  Subject s;
  // Raw calls: glibc 2.36's <sys/pidfd.h> lacks extern "C".
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, s.pid(), 0)));
  if (!pidfd) return missing(sysText("pidfd_open"));
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), s.childWriteFd(), 0)));
  if (!fd) return missing(sysText("pidfd_getfd"));
  struct stat a {};
  struct stat b {};
  if (fstat(fd.get(), &a) != 0 || fstat(s.readFd(), &b) != 0) return missing(sysText("fstat"));
  if (!S_ISFIFO(a.st_mode) || a.st_ino != b.st_ino)
    return missing("pidfd_getfd returned a file that is not the child's pipe end");
  return ok(fmt::format("took the child's fd {} (its end of a pipe with ckpt)", s.childWriteFd()));
}

Outcome clone3SetTid() {
  int pidMax = 32768;
  if (std::string s = readSmallFile("/proc/sys/kernel/pid_max"); !s.empty()) pidMax = std::stoi(s);
  if (pidMax <= 1000) return missing(fmt::format("pid_max is only {}", pidMax));
  unsigned seed = static_cast<unsigned>(getpid()) * 2654435761u;
  for (int attempt = 0; attempt < 64; ++attempt) {
    pid_t want = 300 + static_cast<pid_t>((seed + attempt * 7919u) % (pidMax - 300));
    if (access(fmt::format("/proc/{}", want).c_str(), F_OK) == 0) continue;
    CloneArgs args{};
    args.exitSignal = SIGCHLD;
    args.setTid = reinterpret_cast<uint64_t>(&want);
    args.setTidSize = 1;
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) _exit(0);  // the child: nothing else is safe here
    if (r > 0) {
      int status;
      waitpid(static_cast<pid_t>(r), &status, 0);
      if (r != want) return missing(fmt::format("asked for pid {} and got {}", want, r));
      return ok(fmt::format("created a child with the chosen pid {}", want));
    }
    int err = errno;
    if (err == EEXIST) continue;  // taken since we looked: try another
    if (err == EPERM)
      return missing(
          "needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) over the pid namespace: restore "
          "cannot give back the same pids");
    if (err == ENOSYS) return missing("no clone3 (kernel before 5.3)");
    if (err == E2BIG || err == EINVAL)
      return missing(sysText("clone3 with set_tid (kernel before 5.5?)", err));
    return missing(sysText("clone3 with set_tid", err));
  }
  return missing("found no free pid to try in 64 attempts");
}

// Parses the fields of /proc/self/stat that PR_SET_MM_MAP takes.
bool selfMmMap(prctl_mm_map& map) {
  std::string stat = readSmallFile("/proc/self/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream in(stat.substr(close + 2));
  std::vector<std::string> f(3);  // f[3] is field 3 (state), as in proc(5)
  for (std::string w; in >> w;) f.push_back(w);
  if (f.size() <= 51) return false;
  auto u = [&](int i) { return static_cast<uint64_t>(std::stoull(f[i])); };
  map = {};
  map.start_code = u(26);
  map.end_code = u(27);
  map.start_stack = u(28);
  map.start_data = u(45);
  map.end_data = u(46);
  map.start_brk = u(47);
  map.arg_start = u(48);
  map.arg_end = u(49);
  map.env_start = u(50);
  map.env_end = u(51);
  map.exe_fd = static_cast<uint32_t>(-1);  // keep the exe link; changing it needs privilege
  return true;
}

Outcome prSetMmMap() {
  unsigned int size = 0;
  if (prctl(PR_SET_MM, PR_SET_MM_MAP_SIZE, &size, 0, 0) != 0)
    return missing(sysText("PR_SET_MM_MAP_SIZE (kernel without CONFIG_CHECKPOINT_RESTORE?)"));
  if (size != sizeof(prctl_mm_map))
    return missing(fmt::format("the kernel's prctl_mm_map is {} bytes, ckpt's {}", size,
                               sizeof(prctl_mm_map)));
  prctl_mm_map map{};
  if (!selfMmMap(map)) return missing("cannot parse /proc/self/stat");
  // In a child, set the map to what it already is: the call restore makes.
  int code = inChild([map]() mutable {
    map.brk = static_cast<uint64_t>(syscall(SYS_brk, 0));
    return prctl(PR_SET_MM, PR_SET_MM_MAP, &map, sizeof map, 0) == 0 ? 0 : errno;
  });
  if (code != 0)
    return missing(code > 0 ? sysText("PR_SET_MM_MAP in a child", code)
                            : std::string("the PR_SET_MM_MAP child did not exit"));
  return ok(fmt::format("a child set its mm map ({} bytes) to its current values", size));
}

Outcome nsLastPid() {
  const char* path = "/proc/sys/kernel/ns_last_pid";
  UniqueFd fd(open(path, O_RDWR | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) return missing("absent (kernel without CONFIG_CHECKPOINT_RESTORE)");
    return missing(sysText("open for writing", err));
  }
  char buf[32] = {};
  ssize_t n = pread(fd.get(), buf, sizeof buf - 1, 0);
  if (n <= 0) return missing(sysText("read"));
  // Writing back the value just read changes nothing that matters: it is only
  // where the next pid search starts.
  if (pwrite(fd.get(), buf, static_cast<size_t>(n), 0) != n)
    return missing(sysText("write (needs CAP_CHECKPOINT_RESTORE)"));
  return ok(fmt::format("read {} and wrote it back", std::string(buf, strcspn(buf, "\n"))));
}

Outcome kcmpFiles() {
  Subject s;
  long same = syscall(SYS_kcmp, getpid(), s.pid(), KCMP_FILE, s.readFd(), s.readFd());
  if (same < 0) return missing(sysText("kcmp KCMP_FILE"));
  long vm = syscall(SYS_kcmp, getpid(), s.pid(), KCMP_VM, 0, 0);
  if (vm < 0) return missing(sysText("kcmp KCMP_VM"));
  if (same != 0 || vm == 0) return missing("kcmp gave wrong answers on a forked child");
  return ok("an fd inherited by a child compares equal; the address spaces differ");
}

// A userfaultfd; tries the unprivileged user-mode-only flavour after EPERM.
UniqueFd openUffd(std::string& note) {
  UniqueFd fd(static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK)));
  if (!fd && errno == EPERM) {
    fd.reset(
        static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | kUffdUserModeOnly)));
    if (fd) note = " (user-mode faults only: vm.unprivileged_userfaultfd is 0)";
  }
  return fd;
}

Outcome userfaultfd() {
  std::string note;
  UniqueFd fd = openUffd(note);
  if (!fd) return missing(sysText("userfaultfd"));
  uffdio_api api{};
  api.api = UFFD_API;
  if (ioctl(fd.get(), UFFDIO_API, &api) != 0) return missing(sysText("UFFDIO_API"));
  std::string names;
  const std::pair<uint64_t, const char*> known[] = {
      {UFFD_FEATURE_PAGEFAULT_FLAG_WP, "wp"},
      {kUffdFeatureWpAsync, "wp_async"},
      {kUffdFeatureWpUnpopulated, "wp_unpopulated"},
      {UFFD_FEATURE_WP_HUGETLBFS_SHMEM, "wp_shmem"},
      {kUffdFeatureMove, "move"},
  };
  for (const auto& [bit, name] : known)
    if (api.features & bit) names += fmt::format(" {}", name);
  return ok(fmt::format("features {:#x}:{}{}", api.features, names, note));
}

// Memory registered for asynchronous write-protection (what pre-copy dumps use).
struct WpAsyncRange {
  UniqueFd uffd;
  std::string why;  // empty when set up
};

WpAsyncRange registerWpAsync(const Mapping& m) {
  WpAsyncRange r;
  std::string note;
  r.uffd = openUffd(note);
  if (!r.uffd) {
    r.why = sysText("userfaultfd");
    return r;
  }
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kUffdFeatureWpAsync;
  if (ioctl(r.uffd.get(), UFFDIO_API, &api) != 0) {
    r.why = sysText("UFFDIO_API with UFFD_FEATURE_WP_ASYNC (kernel before 6.7?)");
    return r;
  }
  uffdio_register reg{};
  reg.range = {reinterpret_cast<uint64_t>(m.addr()), m.len()};
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  if (ioctl(r.uffd.get(), UFFDIO_REGISTER, &reg) != 0) r.why = sysText("UFFDIO_REGISTER WP");
  return r;
}

Outcome uffdWpAsync() {
  Mapping m(16 * kPage);
  m.touchAll();
  WpAsyncRange wp = registerWpAsync(m);
  if (!wp.why.empty()) return missing(wp.why);
  uffdio_writeprotect prot{};
  prot.range = {reinterpret_cast<uint64_t>(m.addr()), m.len()};
  prot.mode = UFFDIO_WRITEPROTECT_MODE_WP;
  if (ioctl(wp.uffd.get(), UFFDIO_WRITEPROTECT, &prot) != 0)
    return missing(sysText("UFFDIO_WRITEPROTECT"));
  m.addr()[5 * kPage] = 2;  // resolved by the kernel: no fault message, no wait
  UniqueFd pm(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  uint64_t written = 0;
  uint64_t untouched = 0;
  if (!pm || !pagemapEntry(pm.get(), m.addr() + 5 * kPage, written) ||
      !pagemapEntry(pm.get(), m.addr() + 4 * kPage, untouched))
    return missing(sysText("read /proc/self/pagemap"));
  if ((written & kPmUffdWp) || !(untouched & kPmUffdWp))
    return missing("a write did not lift the protection of its page alone");
  return ok("write-protected 16 pages; a write lifted the protection of its page alone");
}

Outcome pagemapScan() {
  Mapping m(16 * kPage);
  m.touchAll();
  UniqueFd pm(open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC));
  if (!pm) return missing(sysText("open /proc/self/pagemap"));
  PageRegion vec[16]{};
  auto scan = [&](uint64_t flags, uint64_t mask) {
    PmScanArg a{};
    a.size = sizeof a;
    a.flags = flags;
    a.start = reinterpret_cast<uint64_t>(m.addr());
    a.end = a.start + m.len();
    a.vec = reinterpret_cast<uint64_t>(vec);
    a.vecLen = 16;
    a.categoryMask = mask;
    a.returnMask = mask;
    return ioctl(pm.get(), kPagemapScan, &a);
  };
  int n = scan(0, kPageIsPresent);
  if (n < 0) return missing(sysText("PAGEMAP_SCAN (kernel before 6.7?)"));
  if (n != 1 || vec[0].end - vec[0].start != m.len())
    return missing(fmt::format("PAGEMAP_SCAN saw {} regions, not 16 present pages", n));
  WpAsyncRange wp = registerWpAsync(m);
  if (!wp.why.empty()) return ok("scans present pages; written-page tracking needs " + wp.why);
  if (scan(kPmScanWpMatching | kPmScanCheckWpAsync, kPageIsWritten) < 0)
    return missing(sysText("PAGEMAP_SCAN with PM_SCAN_WP_MATCHING"));
  m.addr()[3 * kPage] = 3;
  m.addr()[7 * kPage] = 7;
  n = scan(0, kPageIsWritten);
  auto base = reinterpret_cast<uint64_t>(m.addr());
  if (n != 2 || vec[0].start != base + 3 * kPage || vec[0].end != base + 4 * kPage ||
      vec[1].start != base + 7 * kPage || vec[1].end != base + 8 * kPage)
    return missing(fmt::format("after writing 2 protected pages, the scan reported {} regions", n));
  return ok("reported exactly the 2 pages written after write-protection");
}

Outcome softDirty() {
  // In a child: clearing soft-dirty bits write-protects every page of the process.
  int code = inChild([] {
    int refs = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
    int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    if (refs < 0 || pm < 0) return 10;
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 10;
    auto* page = static_cast<volatile char*>(p);
    page[0] = 1;
    if (write(refs, "4", 1) != 1) return 11;
    uint64_t e = 0;
    if (!pagemapEntry(pm, p, e)) return 10;
    if (e & kPmSoftDirty) return 12;
    page[0] = 2;
    if (!pagemapEntry(pm, p, e)) return 10;
    return (e & kPmSoftDirty) ? 0 : 13;
  });
  switch (code) {
    case 0:
      return ok("clear_refs 4 cleared the bit and a write set it again");
    case 11:
      return missing("writing 4 to /proc/self/clear_refs failed");
    case 12:
      return missing("clear_refs 4 did not clear the soft-dirty bit");
    case 13:
      return missing(
          "a write did not set the soft-dirty bit (kernel without CONFIG_MEM_SOFT_DIRTY); "
          "ckpt tracks writes with userfaultfd instead");
    default:
      return missing("cannot open /proc/self/clear_refs or pagemap");
  }
}

Outcome memfdCreate() {
  UniqueFd fd(memfd_create("ckpt-check", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return missing(sysText("memfd_create"));
  if (ftruncate(fd.get(), static_cast<off_t>(kPage)) != 0) return missing(sysText("ftruncate"));
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK) != 0) return missing(sysText("F_ADD_SEALS"));
  char link[256] = {};
  std::string path = fmt::format("/proc/self/fd/{}", fd.get());
  if (readlink(path.c_str(), link, sizeof link - 1) < 0) return missing(sysText("readlink"));
  return ok(fmt::format("created and sealed {}", link));
}

Outcome closeRange() {
  UniqueFd a(open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!a) return missing(sysText("open /dev/null"));
  int b = dup(a.get());
  if (b < 0) return missing(sysText("dup"));
  if (close_range(b, b, CLOSE_RANGE_CLOEXEC) != 0) {
    int err = errno;
    close(b);
    return missing(sysText("close_range CLOSE_RANGE_CLOEXEC", err));
  }
  bool cloexec = fcntl(b, F_GETFD) == FD_CLOEXEC;
  if (close_range(b, b, 0) != 0) {
    int err = errno;
    close(b);
    return missing(sysText("close_range", err));
  }
  if (fcntl(b, F_GETFD) != -1 || errno != EBADF) return missing("close_range left the fd open");
  if (!cloexec) return missing("CLOSE_RANGE_CLOEXEC did not set FD_CLOEXEC");
  return ok("set close-on-exec on a range, then closed it");
}

Outcome vdsoLayout() {
  std::ifstream maps("/proc/self/maps");
  if (!maps) return missing(sysText("open /proc/self/maps"));
  struct Area {
    const char* name;
    uint64_t start = 0, end = 0;
  };
  Area areas[] = {{"[vvar]"}, {"[vvar_vclock]"}, {"[vdso]"}};
  for (std::string line; std::getline(maps, line);) {
    for (Area& a : areas) {
      size_t len = strlen(a.name);
      if (line.size() < len || line.compare(line.size() - len, len, a.name) != 0) continue;
      a.start = std::stoull(line, nullptr, 16);
      a.end = std::stoull(line.substr(line.find('-') + 1), nullptr, 16);
    }
  }
  if (areas[2].start == 0) return missing("no [vdso] mapping");
  if (getauxval(AT_SYSINFO_EHDR) != areas[2].start)
    return missing("AT_SYSINFO_EHDR does not point at [vdso]");
  std::string parts;
  for (const Area& a : areas) {
    if (!parts.empty()) parts += ", ";
    parts += a.start ? fmt::format("{} {} pages", a.name, (a.end - a.start) / kPage)
                     : fmt::format("{} absent", a.name);
  }
  return ok(parts);
}

struct Check {
  const char* name;
  bool required;
  Outcome (*run)();
};

// Required: dump or restore calls it on every run. Optional: used for some
// images only, for faster dumps, or reported for information.
const Check kChecks[] = {
    {"ptrace_seize_interrupt", true, ptraceSeizeInterrupt},
    {"ptrace_getregset_xstate", true, ptraceXstate},
    {"ptrace_getsigmask", true, ptraceGetSigmask},
    {"ptrace_peeksiginfo", true, ptracePeekSiginfo},
    {"ptrace_get_rseq_configuration", true, ptraceRseqConfig},
    {"ptrace_get_syscall_info", false, ptraceSyscallInfo},
    {"process_vm_readv", true, processVmReadv},
    {"proc_pagemap", true, procPagemap},
    {"pidfd_getfd", true, pidfdGetfd},
    {"clone3_set_tid", true, clone3SetTid},
    {"pr_set_mm_map", true, prSetMmMap},
    {"ns_last_pid", false, nsLastPid},
    {"kcmp", true, kcmpFiles},
    {"userfaultfd", false, userfaultfd},
    {"uffd_wp_async", false, uffdWpAsync},
    {"pagemap_scan", false, pagemapScan},
    {"soft_dirty", false, softDirty},
    {"memfd_create", false, memfdCreate},
    {"close_range", false, closeRange},
    {"vdso_layout", true, vdsoLayout},
};

Feature run(const Check& c) {
  Feature f{c.name, c.required, false, {}};
  try {
    Outcome o = c.run();
    f.ok = o.ok;
    f.detail = std::move(o.detail);
  } catch (const std::exception& e) {
    f.detail = fmt::format("could not try: {}", e.what());
  }
  return f;
}

}  // namespace

std::vector<std::string> featureNames() {
  std::vector<std::string> names;
  for (const Check& c : kChecks) names.emplace_back(c.name);
  return names;
}

std::vector<Feature> checkAll() {
  std::vector<Feature> out;
  for (const Check& c : kChecks) out.push_back(run(c));
  return out;
}

Feature checkOne(std::string_view name) {
  for (const Check& c : kChecks)
    if (name == c.name) return run(c);
  throw Error(fmt::format("unknown kernel feature check '{}'", name));
}

bool requiredPresent(const std::vector<Feature>& features) {
  return std::all_of(features.begin(), features.end(),
                     [](const Feature& f) { return f.ok || !f.required; });
}

}  // namespace ckpt::check
