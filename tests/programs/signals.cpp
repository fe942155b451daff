// zdtm: signal state. Handlers with different flags and masks, an alternate
// signal stack, a blocked mask, and pending signals held across the dump: a
// standard one sent twice (arrives once), three queued real-time ones with
// values (arrive in order), and one queued to the thread alone.
#include <pthread.h>

#include <array>

#include "zdtm.hpp"

namespace {

// What the handlers saw, in arrival order.
struct Arrival {
  int signo, code, value;
  pid_t pid;
};
std::array<Arrival, 32> g_arrivals;
volatile sig_atomic_t g_narrivals = 0;
volatile sig_atomic_t g_intDepth = 0, g_intMaxDepth = 0;
volatile sig_atomic_t g_intMaskOk = 0;
volatile sig_atomic_t g_hupOnAltStack = 0;
volatile sig_atomic_t g_termCalls = 0;

char* g_altStack;
constexpr size_t kAltStackSize = 64 * 1024;

const int kRtQueued = SIGRTMIN + 2;  // 3 queued values, process-wide
const int kRtThread = SIGRTMIN + 3;  // 1 queued value, this thread only
const int kRtMasked = SIGRTMIN + 7;  // only in SIGINT's handler mask

void onInfo(int sig, siginfo_t* si, void*) {
  if (g_narrivals < static_cast<int>(g_arrivals.size()))
    g_arrivals[g_narrivals] = {sig, si->si_code, si->si_value.sival_int, si->si_pid};
  g_narrivals = g_narrivals + 1;
}

void onInt(int) {
  g_intDepth = g_intDepth + 1;
  if (g_intDepth > g_intMaxDepth) g_intMaxDepth = g_intDepth;
  sigset_t now;
  pthread_sigmask(SIG_SETMASK, nullptr, &now);
  if (sigismember(&now, SIGTERM) && sigismember(&now, kRtMasked)) g_intMaskOk = 1;
  if (g_intDepth == 1) raise(SIGINT);  // SA_NODEFER: nests
  g_intDepth = g_intDepth - 1;
}

void onHup(int) {
  char here;
  g_hupOnAltStack = &here >= g_altStack && &here < g_altStack + kAltStackSize;
}

void onTerm(int) {
  g_termCalls = g_termCalls + 1;
}

void install(int sig, void (*h)(int), void (*hi)(int, siginfo_t*, void*), int flags,
             std::initializer_list<int> mask) {
  struct sigaction sa {};
  if (hi) {
    sa.sa_sigaction = hi;
    flags |= SA_SIGINFO;
  } else {
    sa.sa_handler = h;
  }
  sa.sa_flags = flags;
  sigemptyset(&sa.sa_mask);
  for (int s : mask) sigaddset(&sa.sa_mask, s);
  if (sigaction(sig, &sa, nullptr) != 0) zdtm::die("sigaction %d", sig);
}

bool sameMask(const sigset_t& a, const sigset_t& b) {
  for (int s = 1; s < NSIG; s++)
    if (sigismember(&a, s) != sigismember(&b, s)) return false;
  return true;
}

// Hex mask from a /proc/self/status line ("SigPnd:", "ShdPnd:").
unsigned long long statusMask(const char* key) {
  auto text = zdtm::readFile("/proc/self/status");
  if (!text) return ~0ULL;
  auto at = text->find(key);
  if (at == std::string::npos) return ~0ULL;
  return strtoull(text->c_str() + at + strlen(key), nullptr, 16);
}
unsigned long long bit(int sig) {
  return 1ULL << (sig - 1);
}

bool validSignal(int s) {
  return s != SIGKILL && s != SIGSTOP && (s < 32 || s >= SIGRTMIN);
}

}  // namespace

int main() {
  g_altStack = static_cast<char*>(malloc(kAltStackSize));
  stack_t ss{};
  ss.ss_sp = g_altStack;
  ss.ss_size = kAltStackSize;
  if (sigaltstack(&ss, nullptr) != 0) zdtm::die("sigaltstack");

  install(SIGUSR2, nullptr, onInfo, SA_RESTART, {SIGQUIT});
  install(kRtQueued, nullptr, onInfo, 0, {});
  install(kRtThread, nullptr, onInfo, SA_RESTART, {SIGUSR2});
  install(SIGINT, onInt, nullptr, SA_NODEFER, {SIGTERM, kRtMasked});
  install(SIGHUP, onHup, nullptr, SA_ONSTACK | SA_RESTART, {});
  install(SIGTERM, onTerm, nullptr, SA_RESETHAND, {SIGINT});
  signal(SIGPIPE, SIG_IGN);
  signal(SIGWINCH, SIG_IGN);

  sigset_t held;
  sigemptyset(&held);
  for (int s : {SIGUSR1, SIGUSR2, kRtQueued, kRtThread}) sigaddset(&held, s);
  sigaddset(&held, SIGRTMIN + 10);  // blocked, never sent
  pthread_sigmask(SIG_BLOCK, &held, nullptr);

  pid_t me = getpid();
  kill(me, SIGUSR2);
  kill(me, SIGUSR2);  // a standard signal does not queue: arrives once
  for (int v : {1001, 1002, 1003}) sigqueue(me, kRtQueued, sigval{.sival_int = v});
  pthread_sigqueue(pthread_self(), kRtThread, sigval{.sival_int = 2001});

  // Everything as the kernel holds it now, to compare after the restore.
  std::array<struct sigaction, NSIG> before{};
  for (int s = 1; s < NSIG; s++)
    if (validSignal(s)) sigaction(s, nullptr, &before[s]);
  sigset_t maskBefore;
  pthread_sigmask(SIG_SETMASK, nullptr, &maskBefore);
  stack_t ssBefore{};
  sigaltstack(nullptr, &ssBefore);
  const unsigned long long shdWant = bit(SIGUSR2) | bit(kRtQueued);
  const unsigned long long thrWant = bit(kRtThread);
  if (statusMask("ShdPnd:") != shdWant || statusMask("SigPnd:") != thrWant)
    zdtm::die("pending signals not as sent: ShdPnd %llx SigPnd %llx", statusMask("ShdPnd:"),
              statusMask("SigPnd:"));

  zdtm::readyAndWait(zdtm::Wait::Sigwaitinfo);

  // Dispositions, flags and masks of every signal are as they were.
  for (int s = 1; s < NSIG; s++) {
    if (!validSignal(s)) continue;
    struct sigaction now {};
    sigaction(s, nullptr, &now);
    CHECK(now.sa_handler == before[s].sa_handler, "signal %d: handler %p, was %p", s,
          reinterpret_cast<void*>(now.sa_handler), reinterpret_cast<void*>(before[s].sa_handler));
    CHECK(now.sa_flags == before[s].sa_flags, "signal %d: flags %#x, were %#x", s, now.sa_flags,
          before[s].sa_flags);
    CHECK(sameMask(now.sa_mask, before[s].sa_mask), "signal %d: handler mask changed", s);
  }
  sigset_t maskNow;
  pthread_sigmask(SIG_SETMASK, nullptr, &maskNow);
  CHECK(sameMask(maskNow, maskBefore), "blocked mask changed");
  stack_t ssNow{};
  sigaltstack(nullptr, &ssNow);
  CHECK(ssNow.ss_sp == ssBefore.ss_sp && ssNow.ss_size == ssBefore.ss_size &&
            ssNow.ss_flags == ssBefore.ss_flags,
        "sigaltstack %p/%zu/%d, was %p/%zu/%d", ssNow.ss_sp, ssNow.ss_size, ssNow.ss_flags,
        ssBefore.ss_sp, ssBefore.ss_size, ssBefore.ss_flags);

  // Pending: the same signals, in the same queues (process-wide vs. thread).
  unsigned long long shd = statusMask("ShdPnd:"), thr = statusMask("SigPnd:");
  CHECK(shd == shdWant, "process-wide pending %#llx, want %#llx", shd, shdWant);
  CHECK(thr == thrWant, "thread pending %#llx, want %#llx", thr, thrWant);
  CHECK(g_narrivals == 0, "%d signal(s) arrived while blocked", static_cast<int>(g_narrivals));

  // Unblock: everything pending is delivered before sigprocmask returns.
  sigset_t release;
  sigemptyset(&release);
  for (int s : {SIGUSR2, kRtQueued, kRtThread}) sigaddset(&release, s);
  pthread_sigmask(SIG_UNBLOCK, &release, nullptr);

  int usr2 = 0, thread = 0;
  std::vector<int> queued;
  for (int i = 0; i < g_narrivals && i < static_cast<int>(g_arrivals.size()); i++) {
    const Arrival& a = g_arrivals[i];
    if (a.signo == SIGUSR2) {
      usr2++;
      CHECK(a.code == SI_USER && a.pid == me, "SIGUSR2: si_code %d si_pid %d, want SI_USER %d",
            a.code, a.pid, me);
    } else if (a.signo == kRtQueued) {
      queued.push_back(a.value);
      CHECK(a.code == SI_QUEUE && a.pid == me, "SIGRTMIN+2: si_code %d si_pid %d", a.code, a.pid);
    } else if (a.signo == kRtThread) {
      thread++;
      CHECK(a.value == 2001 && a.code == SI_QUEUE, "SIGRTMIN+3: value %d si_code %d", a.value,
            a.code);
    } else {
      zdtm::fail("unexpected signal %d arrived", a.signo);
    }
  }
  CHECK(usr2 == 1, "SIGUSR2 arrived %d times, want once", usr2);
  CHECK(thread == 1, "SIGRTMIN+3 arrived %d times, want once", thread);
  CHECK((queued == std::vector<int>{1001, 1002, 1003}), "SIGRTMIN+2 values arrived as [%s]",
        [&] {
          std::string s;
          for (int v : queued) s += std::to_string(v) + " ";
          return s;
        }()
            .c_str());
  CHECK(statusMask("ShdPnd:") == 0 && statusMask("SigPnd:") == 0, "signals still pending");

  // The handlers still behave as their flags say.
  raise(SIGHUP);
  CHECK(g_hupOnAltStack, "SA_ONSTACK handler did not run on the alternate stack");
  raise(SIGINT);
  CHECK(g_intMaxDepth == 2, "SA_NODEFER handler nested to depth %d, want 2",
        static_cast<int>(g_intMaxDepth));
  CHECK(g_intMaskOk, "SIGINT handler ran without its sa_mask blocked");
  raise(SIGTERM);
  CHECK(g_termCalls == 1, "SIGTERM handler ran %d times", static_cast<int>(g_termCalls));
  struct sigaction term {};
  sigaction(SIGTERM, nullptr, &term);
  CHECK(term.sa_handler == SIG_DFL, "SA_RESETHAND did not reset SIGTERM");
  return zdtm::finish();
}
