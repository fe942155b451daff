// zdtm: per-process odds and ends. cwd, umask, rlimits, personality, comm,
// no_new_privs, exe link, argv and environ as /proc shows them, the
// clear-child-tid address, and glibc's rseq registration.
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/rseq.h>
#include <sys/syscall.h>

#include <array>

#include "zdtm.hpp"

extern char** environ;

namespace {

constexpr const char* kComm = "zdtm-misc-nm";  // at most 15 characters
constexpr unsigned kRlimits = RLIM_NLIMITS;

struct rseq* threadRseq() {
  return reinterpret_cast<struct rseq*>(static_cast<char*>(__builtin_thread_pointer()) +
                                        __rseq_offset);
}

// Registering the same rseq area again fails with EBUSY if, and only if, it
// is registered already. glibc 2.36 registers 32 bytes; later ones may
// register more than __rseq_size.
int rseqProbe() {
  for (unsigned len : {static_cast<unsigned>(__rseq_size), 32U}) {
    long r = syscall(SYS_rseq, threadRseq(), len, 0, RSEQ_SIG);
    if (r == 0) return 0;  // was not registered (now it is)
    if (errno != EINVAL) return errno;
  }
  return EINVAL;
}

volatile sig_atomic_t g_usr2 = 0;
void onUsr2(int) {
  g_usr2 = 1;
}

// Resets the rseq cpu_id, then delivers a signal: the kernel rewrites the
// area of a registered thread on the way back to user space.
int rseqCpuAfterSignal() {
  auto* rs = threadRseq();
  __atomic_store_n(&rs->cpu_id, static_cast<uint32_t>(RSEQ_CPU_ID_UNINITIALIZED), __ATOMIC_SEQ_CST);
  raise(SIGUSR2);
  sched_yield();
  return static_cast<int>(__atomic_load_n(&rs->cpu_id, __ATOMIC_SEQ_CST));
}

std::string readlinkStr(const char* path) {
  char buf[4096];
  ssize_t n = readlink(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string cwd() {
  char buf[4096];
  return getcwd(buf, sizeof buf) ? buf : "";
}

std::string printable(const std::string& s) {
  std::string out = s;
  for (auto& c : out)
    if (c == '\0') c = ' ';
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = zdtm::testPath("misc-cwd");
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) zdtm::die("mkdir %s", dir.c_str());
  if (chdir(dir.c_str()) != 0) zdtm::die("chdir");
  zdtm::writeFileOrDie("relative.txt", "here", 4);
  umask(027);

  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = 200;
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) zdtm::die("setrlimit NOFILE");
  rlimit core{1 << 20, 1 << 22};
  if (setrlimit(RLIMIT_CORE, &core) != 0) zdtm::die("setrlimit CORE");
  std::array<rlimit, kRlimits> limits{};
  for (unsigned r = 0; r < kRlimits; r++) getrlimit(static_cast<__rlimit_resource>(r), &limits[r]);

  int persona = personality(0xffffffff);
  if (personality(static_cast<unsigned long>(persona | ADDR_NO_RANDOMIZE)) < 0)
    zdtm::die("personality");
  persona = personality(0xffffffff);
  if (prctl(PR_SET_NAME, kComm) != 0) zdtm::die("PR_SET_NAME");
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) zdtm::die("PR_SET_NO_NEW_PRIVS");

  const auto cmdline = zdtm::readFile("/proc/self/cmdline");
  const auto environText = zdtm::readFile("/proc/self/environ");
  const std::string exe = readlinkStr("/proc/self/exe");
  const std::string cwdBefore = cwd();
  int* tidAddr = nullptr;
  if (prctl(PR_GET_TID_ADDRESS, &tidAddr) != 0) zdtm::die("PR_GET_TID_ADDRESS");

  struct sigaction sa {};
  sa.sa_handler = onUsr2;
  sigaction(SIGUSR2, &sa, nullptr);
  if (__rseq_size == 0) zdtm::die("glibc did not register rseq (GLIBC_TUNABLES?)");
  if (int e = rseqProbe(); e != EBUSY) zdtm::die("rseq probe: %s", strerror(e));
  if (rseqCpuAfterSignal() < 0) zdtm::die("rseq cpu_id not updated by the kernel");

  zdtm::readyAndWait(zdtm::Wait::Pause);

  CHECK(cwd() == cwdBefore, "cwd is %s, was %s", cwd().c_str(), cwdBefore.c_str());
  auto rel = zdtm::readFile("relative.txt");
  CHECK(rel && *rel == "here", "cannot read a file relative to the cwd");
  mode_t mask = umask(0);
  umask(mask);
  CHECK(mask == 027, "umask %03o, want 027", mask);

  for (unsigned r = 0; r < kRlimits; r++) {
    rlimit now{};
    getrlimit(static_cast<__rlimit_resource>(r), &now);
    CHECK(now.rlim_cur == limits[r].rlim_cur && now.rlim_max == limits[r].rlim_max,
          "rlimit %u: %llu/%llu, was %llu/%llu", r, static_cast<unsigned long long>(now.rlim_cur),
          static_cast<unsigned long long>(now.rlim_max),
          static_cast<unsigned long long>(limits[r].rlim_cur),
          static_cast<unsigned long long>(limits[r].rlim_max));
  }
  CHECK(limits[RLIMIT_NOFILE].rlim_cur == 200, "RLIMIT_NOFILE was not lowered");

  int personaNow = personality(0xffffffff);
  CHECK(personaNow == persona && (personaNow & ADDR_NO_RANDOMIZE), "personality %#x, was %#x",
        personaNow, persona);
  char comm[32] = {};
  prctl(PR_GET_NAME, comm);
  CHECK(strcmp(comm, kComm) == 0, "comm \"%s\", want \"%s\"", comm, kComm);
  CHECK(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1, "no_new_privs was lost");
  CHECK(readlinkStr("/proc/self/exe") == exe, "/proc/self/exe is %s, was %s",
        readlinkStr("/proc/self/exe").c_str(), exe.c_str());

  // argv and environ: what /proc shows (from the saved mm fields) and what
  // the process holds in memory agree with each other and with before.
  auto cmdNow = zdtm::readFile("/proc/self/cmdline");
  CHECK(cmdNow == cmdline, "/proc/self/cmdline is \"%s\", was \"%s\"",
        printable(cmdNow.value_or("?")).c_str(), printable(cmdline.value_or("?")).c_str());
  std::string fromArgv;
  for (int i = 0; i < argc; i++) fromArgv += std::string(argv[i]) + '\0';
  CHECK(cmdNow == fromArgv, "/proc/self/cmdline differs from argv");
  auto envNow = zdtm::readFile("/proc/self/environ");
  CHECK(envNow == environText, "/proc/self/environ changed");
  std::string fromEnviron;
  for (char** e = environ; *e; e++) fromEnviron += std::string(*e) + '\0';
  CHECK(envNow == fromEnviron, "/proc/self/environ differs from environ");

  int* tidNow = nullptr;
  prctl(PR_GET_TID_ADDRESS, &tidNow);
  CHECK(tidNow == tidAddr, "clear-child-tid address %p, was %p", static_cast<void*>(tidNow),
        static_cast<void*>(tidAddr));

  int probe = rseqProbe();
  CHECK(probe == EBUSY, "rseq is not registered as before (probe: %s)",
        probe ? strerror(probe) : "registered anew");
  int cpu = rseqCpuAfterSignal();
  CHECK(cpu >= 0, "rseq cpu_id is %d after a signal: the kernel does not update it", cpu);
  CHECK(g_usr2 == 1, "SIGUSR2 handler did not run");
  return zdtm::finish();
}
