// zdtm: timers. The three itimers and POSIX timers (signal, none, thread-id
// notification; one disarmed; ids with a gap) armed with long times. After
// restore: same ids and notifications, remaining times sane, and the timers
// still deliver their signals with their values.
#include <poll.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "zdtm.hpp"

namespace {

const int kSigMono = SIGRTMIN + 1;
const int kSigThread = SIGRTMIN + 4;

int g_tickPipe[2] = {-1, -1};
void onTick(sigval) {
  (void)!write(g_tickPipe[1], "t", 1);
}

struct Posix {
  const char* name;
  timer_t id;
  itimerspec set;
};

timer_t create(clockid_t clock, int notify, int sig, int value) {
  sigevent ev{};
  ev.sigev_notify = notify;
  ev.sigev_signo = sig;
  ev.sigev_value.sival_int = value;
  if (notify == SIGEV_THREAD_ID) ev._sigev_un._tid = gettid();
  timer_t t;
  if (timer_create(clock, &ev, &t) != 0) zdtm::die("timer_create");
  return t;
}

itimerspec spec(long value, long interval) {
  itimerspec s{};
  s.it_value.tv_sec = value;
  s.it_interval.tv_sec = interval;
  return s;
}

double secs(const timespec& t) {
  return static_cast<double>(t.tv_sec) + t.tv_nsec * 1e-9;
}
double secs(const timeval& t) {
  return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6;
}

// Waits (bounded) for sig, which the caller keeps blocked.
bool waitSignal(int sig, siginfo_t* si) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  timespec timeout{10, 0};
  return sigtimedwait(&set, si, &timeout) == sig;
}

}  // namespace

int main() {
  sigset_t blocked;
  sigemptyset(&blocked);
  for (int s : {kSigMono, kSigThread, SIGALRM, SIGVTALRM, SIGPROF}) sigaddset(&blocked, s);
  sigprocmask(SIG_BLOCK, &blocked, nullptr);

  const itimerval itv[3] = {{{50, 0}, {100, 0}}, {{20, 0}, {200, 0}}, {{30, 0}, {300, 0}}};
  const int which[3] = {ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF};
  const char* names[3] = {"ITIMER_REAL", "ITIMER_VIRTUAL", "ITIMER_PROF"};
  for (int i = 0; i < 3; i++)
    if (setitimer(which[i], &itv[i], nullptr) != 0) zdtm::die("setitimer %s", names[i]);

  // A deleted timer leaves a gap in the ids: restore must recreate the ids exactly.
  timer_t gap = create(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0);
  timer_delete(gap);
  Posix timers[] = {
      {"monotonic/signal", create(CLOCK_MONOTONIC, SIGEV_SIGNAL, kSigMono, 111), spec(1000, 500)},
      {"realtime/none", create(CLOCK_REALTIME, SIGEV_NONE, 0, 222), spec(2000, 0)},
      {"monotonic/thread", create(CLOCK_MONOTONIC, SIGEV_THREAD_ID, kSigThread, 333),
       spec(3000, 60)},
      {"boottime/disarmed", create(CLOCK_BOOTTIME, SIGEV_SIGNAL, kSigMono, 444), spec(0, 0)},
  };
  for (auto& t : timers)
    if (timer_settime(t.id, 0, &t.set, nullptr) != 0) zdtm::die("timer_settime %s", t.name);
  // SIGEV_THREAD: libc's helper thread receives the timer's signal (its
  // timer names that thread), then runs the function on a new thread.
  if (pipe(g_tickPipe) != 0) zdtm::die("pipe");
  sigevent threadEv{};
  threadEv.sigev_notify = SIGEV_THREAD;
  threadEv.sigev_notify_function = onTick;
  timer_t threadTimer{};
  if (timer_create(CLOCK_MONOTONIC, &threadEv, &threadTimer) != 0)
    zdtm::die("timer_create SIGEV_THREAD");
  const auto procTimers = zdtm::readFile("/proc/self/timers");
  if (!procTimers) zdtm::die("read /proc/self/timers");

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  // Same ids, clocks and notifications, as the kernel lists them.
  auto procNow = zdtm::readFile("/proc/self/timers");
  CHECK(procNow == procTimers, "/proc/self/timers changed:\n--- before\n%s--- after\n%s",
        procTimers->c_str(), procNow ? procNow->c_str() : "(unreadable)\n");
  CHECK(timer_gettime(gap, nullptr) != 0 && errno == EINVAL, "the deleted timer id exists again");

  for (auto& t : timers) {
    itimerspec now{};
    if (!CHECK(timer_gettime(t.id, &now) == 0, "timer_gettime %s: %s", t.name, strerror(errno)))
      continue;
    double left = secs(now.it_value), set = secs(t.set.it_value);
    if (set == 0) {
      CHECK(left == 0, "%s: disarmed timer is armed (%.3f s left)", t.name, left);
    } else {
      CHECK(left > 0 && left <= set, "%s: %.3f s left, set %.0f s", t.name, left, set);
    }
    CHECK(now.it_interval.tv_sec == t.set.it_interval.tv_sec && now.it_interval.tv_nsec == 0,
          "%s: interval %ld s, set %ld s", t.name, static_cast<long>(now.it_interval.tv_sec),
          static_cast<long>(t.set.it_interval.tv_sec));
  }
  for (int i = 0; i < 3; i++) {
    itimerval now{};
    getitimer(which[i], &now);
    // The CPU-time itimers count in ticks and may report a tick more than set.
    double left = secs(now.it_value), set = secs(itv[i].it_value);
    CHECK(left > 0 && left <= set + 0.05, "%s: %.3f s left, set %.0f s", names[i], left, set);
    CHECK(secs(now.it_interval) == secs(itv[i].it_interval), "%s: interval %.3f s, set %.0f s",
          names[i], secs(now.it_interval), secs(itv[i].it_interval));
  }
  sigset_t pending;
  sigpending(&pending);
  for (int s : {kSigMono, kSigThread, SIGALRM, SIGVTALRM, SIGPROF})
    CHECK(!sigismember(&pending, s), "signal %d pending: a timer fired early", s);

  // The timers still deliver, with their signal, value and id.
  for (int k : {0, 2}) {
    auto& t = timers[k];
    itimerspec soon{};
    soon.it_value.tv_nsec = 1000000;
    timer_settime(t.id, 0, &soon, nullptr);
    siginfo_t si{};
    int sig = k == 0 ? kSigMono : kSigThread;
    if (CHECK(waitSignal(sig, &si), "%s did not fire", t.name)) {
      CHECK(si.si_code == SI_TIMER && si.si_value.sival_int == (k == 0 ? 111 : 333) &&
                si.si_timerid == static_cast<int>(reinterpret_cast<intptr_t>(t.id)),
            "%s: si_code %d value %d timerid %d", t.name, si.si_code, si.si_value.sival_int,
            si.si_timerid);
    }
  }
  itimerspec tick{};
  tick.it_value.tv_nsec = 1000000;
  timer_settime(threadTimer, 0, &tick, nullptr);
  pollfd pf{g_tickPipe[0], POLLIN, 0};
  CHECK(poll(&pf, 1, 30000) == 1, "the SIGEV_THREAD timer did not run its function");
  itimerval soon{{0, 0}, {0, 1000}};
  setitimer(ITIMER_REAL, &soon, nullptr);
  siginfo_t si{};
  CHECK(waitSignal(SIGALRM, &si), "ITIMER_REAL did not fire");
  return zdtm::finish();
}
