// zdtm: the program that fault tests dump and abandon (a failed dump, ckpt
// killed mid-dump). Small, so that a run is quick, but with state that an
// abandoned dump could spoil: a child process, a thread spinning in assembly
// with known values in r12-r15, xmm0-7 and MXCSR, a thread blocked in read(),
// custom signal masks and a handler, an itimer and a POSIX timer, bytes in a
// pipe. After SIGUSR1 it checks all of it, and that no mapping or fd was
// added: nothing of ckpt may be left behind in it.
#include <dirent.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <atomic>

#include "zdtm.hpp"

namespace {

constexpr unsigned kMxcsr = 0x7f80;  // all exceptions masked, round toward zero
constexpr size_t kPipeBytes = 1000;
constexpr uint64_t kSeed = 0x5717d1;

struct alignas(16) RegImage {
  uint64_t vec[8][2];
  uint64_t gpr[4];
};

std::atomic<int> g_release{0};
std::atomic<uint64_t> g_spins{0};
int g_readerPipe[2];

void onUsr2(int, siginfo_t*, void*) {}

RegImage expected() {
  RegImage r{};
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 2; j++) r.vec[i][j] = zdtm::pattern(kSeed, uint64_t(i * 2 + j));
  for (int i = 0; i < 4; i++) r.gpr[i] = zdtm::pattern(kSeed + 1, uint64_t(i));
  return r;
}

// Loads the registers, spins (counting in memory only) until released, then
// stores them: any register the dump changed shows up as a mismatch.
void* spinner(void*) {
  RegImage in = expected(), out{};
  unsigned mxcsrIn = kMxcsr, mxcsrOut = 0;
  asm volatile(
      "ldmxcsr %[mi]\n"
      "movdqa 0*16(%[in]), %%xmm0\n movdqa 1*16(%[in]), %%xmm1\n"
      "movdqa 2*16(%[in]), %%xmm2\n movdqa 3*16(%[in]), %%xmm3\n"
      "movdqa 4*16(%[in]), %%xmm4\n movdqa 5*16(%[in]), %%xmm5\n"
      "movdqa 6*16(%[in]), %%xmm6\n movdqa 7*16(%[in]), %%xmm7\n"
      "movq 128(%[in]), %%r12\n movq 136(%[in]), %%r13\n"
      "movq 144(%[in]), %%r14\n movq 152(%[in]), %%r15\n"
      "1: lock incq (%[spins])\n pause\n cmpl $0, (%[rel])\n je 1b\n"
      "movdqa %%xmm0, 0*16(%[out])\n movdqa %%xmm1, 1*16(%[out])\n"
      "movdqa %%xmm2, 2*16(%[out])\n movdqa %%xmm3, 3*16(%[out])\n"
      "movdqa %%xmm4, 4*16(%[out])\n movdqa %%xmm5, 5*16(%[out])\n"
      "movdqa %%xmm6, 6*16(%[out])\n movdqa %%xmm7, 7*16(%[out])\n"
      "movq %%r12, 128(%[out])\n movq %%r13, 136(%[out])\n"
      "movq %%r14, 144(%[out])\n movq %%r15, 152(%[out])\n"
      "stmxcsr %[mo]\n"
      : [mo] "=m"(mxcsrOut)
      : [in] "r"(&in), [out] "r"(&out), [spins] "r"(&g_spins), [rel] "r"(&g_release),
        [mi] "m"(mxcsrIn)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "r12", "r13", "r14", "r15",
        "memory", "cc");
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 2; j++)
      CHECK(out.vec[i][j] == in.vec[i][j], "xmm%d[%d] = %#lx, want %#lx", i, j, out.vec[i][j],
            in.vec[i][j]);
  for (int i = 0; i < 4; i++)
    CHECK(out.gpr[i] == in.gpr[i], "r%d = %#lx, want %#lx", 12 + i, out.gpr[i], in.gpr[i]);
  CHECK(mxcsrOut == kMxcsr, "MXCSR = %#x, want %#x", mxcsrOut, kMxcsr);
  return nullptr;
}

// Blocked in read() through the dump: the call must neither fail nor return
// anything but the byte written after the wake-up.
void* reader(void*) {
  zdtm::detail::setBlocked(SIGRTMIN + 3, true);
  char c = 0;
  ssize_t n = read(g_readerPipe[0], &c, 1);
  CHECK(n == 1 && c == 'w', "read() in a thread returned %zd (errno %d), byte '%c'", n,
        n < 0 ? errno : 0, c);
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  CHECK(sigismember(&now, SIGRTMIN + 3) == 1, "the reader thread's mask lost SIGRTMIN+3");
  return nullptr;
}

std::vector<std::string> mappingsNow() {
  std::vector<std::string> out;
  for (auto& m : zdtm::readMaps())
    if (m.path != "[heap]")
      out.push_back(std::to_string(m.start) + "-" + std::to_string(m.end) + " " + m.perms + " " +
                    m.path);
  return out;
}

std::vector<int> fdsNow() {
  std::vector<int> fds;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return fds;
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') fds.push_back(atoi(e->d_name));
  int own = dirfd(d);
  closedir(d);
  std::erase(fds, own);
  std::sort(fds.begin(), fds.end());
  return fds;
}

int childMain(int dataFd) {
  zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
  char buf[16] = {};
  ssize_t n = read(dataFd, buf, sizeof buf);
  CHECK(n == 5 && memcmp(buf, "child", 5) == 0, "the child's pipe held %zd bytes", n);
  return zdtm::finish();
}

}  // namespace

int main() {
  // SIGUSR1 blocked in every thread and the child: only the main thread's
  // sigsuspend takes it.
  int childPipe[2];
  if (pipe2(childPipe, O_CLOEXEC) != 0 || write(childPipe[1], "child", 5) != 5)
    zdtm::die("child pipe");
  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) _exit(childMain(childPipe[0]));
  close(childPipe[0]);
  close(childPipe[1]);

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  sigaddset(&mask, SIGRTMIN + 2);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) zdtm::die("sigmask");
  struct sigaction sa {};
  sa.sa_sigaction = onUsr2;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGWINCH);
  if (sigaction(SIGUSR2, &sa, nullptr) != 0) zdtm::die("sigaction");

  itimerval it{{1000, 0}, {1000, 0}};
  if (setitimer(ITIMER_REAL, &it, nullptr) != 0) zdtm::die("setitimer");
  sigevent ev{};
  ev.sigev_notify = SIGEV_NONE;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &ev, &timer) != 0) zdtm::die("timer_create");
  itimerspec its{{0, 0}, {1000, 0}};
  if (timer_settime(timer, 0, &its, nullptr) != 0) zdtm::die("timer_settime");

  int dataPipe[2];
  if (pipe2(dataPipe, O_CLOEXEC) != 0) zdtm::die("pipe2");
  std::vector<char> data(kPipeBytes);
  zdtm::fillPattern(data.data(), data.size(), kSeed);
  if (write(dataPipe[1], data.data(), data.size()) != ssize_t(data.size())) zdtm::die("fill pipe");
  if (pipe2(g_readerPipe, O_CLOEXEC) != 0) zdtm::die("pipe2");

  pthread_t spin, read;
  if (pthread_create(&spin, nullptr, spinner, nullptr) != 0) zdtm::die("pthread_create");
  if (pthread_create(&read, nullptr, reader, nullptr) != 0) zdtm::die("pthread_create");
  while (g_spins.load() == 0) sched_yield();

  auto maps = mappingsNow();
  auto fds = fdsNow();
  std::erase(fds, zdtm::readyFdNumber());
  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  CHECK(mappingsNow() == maps, "the mappings changed across the dump");
  CHECK(fdsNow() == fds, "the open fds changed across the dump (%zu now, %zu before)",
        fdsNow().size(), fds.size());
  // The spinner moves on (however loaded the machine: up to 30 s).
  uint64_t before = g_spins.load();
  for (int i = 0; i < 30000 && g_spins.load() == before; i++) {
    timespec ms{0, 1000 * 1000};
    nanosleep(&ms, nullptr);
  }
  CHECK(g_spins.load() > before, "the spinning thread does not run");

  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  CHECK(sigismember(&now, SIGUSR2) == 1 && sigismember(&now, SIGRTMIN + 2) == 1 &&
            sigismember(&now, SIGUSR1) == 0,
        "the main thread's signal mask changed");
  struct sigaction cur {};
  sigaction(SIGUSR2, nullptr, &cur);
  CHECK(cur.sa_sigaction == onUsr2 &&
            (cur.sa_flags & (SA_SIGINFO | SA_RESTART)) == (SA_SIGINFO | SA_RESTART) &&
            sigismember(&cur.sa_mask, SIGWINCH) == 1,
        "the SIGUSR2 handler changed");
  itimerval itNow{};
  getitimer(ITIMER_REAL, &itNow);
  CHECK(itNow.it_value.tv_sec > 900 && itNow.it_value.tv_sec <= 1000 &&
            itNow.it_interval.tv_sec == 1000,
        "ITIMER_REAL now %ld s (interval %ld s)", itNow.it_value.tv_sec, itNow.it_interval.tv_sec);
  itimerspec itsNow{};
  timer_gettime(timer, &itsNow);
  CHECK(itsNow.it_value.tv_sec > 900 && itsNow.it_value.tv_sec <= 1000,
        "the POSIX timer now has %ld s left", itsNow.it_value.tv_sec);

  std::vector<char> back(kPipeBytes + 1);
  ssize_t n = ::read(dataPipe[0], back.data(), back.size());
  CHECK(n == ssize_t(kPipeBytes) && memcmp(back.data(), data.data(), kPipeBytes) == 0,
        "the pipe gave back %zd of %zu bytes (or other bytes)", n, kPipeBytes);

  g_release.store(1);
  if (write(g_readerPipe[1], "w", 1) != 1) zdtm::fail("waking the reader thread");
  pthread_join(spin, nullptr);
  pthread_join(read, nullptr);

  kill(child, SIGUSR1);
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "the child ended with status %#x", status);
  return zdtm::finish();
}
