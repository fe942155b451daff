// zdtm: timerfd. Long timers on CLOCK_MONOTONIC (relative) and CLOCK_REALTIME
// (absolute, periodic), one on CLOCK_BOOTTIME, a periodic timer whose first
// 11 expirations lie in the past and were never read (the kernel counts the
// overruns only when asked), a one-shot that fired unread, and one never armed.
#include <poll.h>
#include <sys/timerfd.h>
#include <time.h>

#include "zdtm.hpp"

namespace {

constexpr int64_t kNs = 1000000000;

int64_t nsOf(const timespec& t) {
  return int64_t(t.tv_sec) * kNs + t.tv_nsec;
}
timespec tsOf(int64_t ns) {
  return {time_t(ns / kNs), long(ns % kNs)};
}
int64_t now(clockid_t c) {
  timespec t{};
  clock_gettime(c, &t);
  return nsOf(t);
}

int timerOrDie(clockid_t c, int flags) {
  int fd = timerfd_create(c, flags);
  if (fd < 0) zdtm::die("timerfd_create(%d)", c);
  return fd;
}

void armOrDie(int fd, int flags, int64_t valueNs, int64_t intervalNs) {
  itimerspec its{tsOf(intervalNs), tsOf(valueNs)};
  if (timerfd_settime(fd, flags, &its, nullptr) != 0) zdtm::die("timerfd_settime");
}

// A field of this fd's /proc/self/fdinfo ("clockid", "settime flags").
std::string fdinfoField(int fd, const std::string& key) {
  auto text = zdtm::readFile("/proc/self/fdinfo/" + std::to_string(fd));
  if (!text) return "?";
  size_t at = text->find("\n" + key + ":");
  if (at == std::string::npos) return "?";
  at += key.size() + 2;
  size_t eol = text->find('\n', at);
  std::string v = text->substr(at, eol - at);
  v.erase(0, v.find_first_not_of(" \t"));
  return v;
}

// Checks the remaining time and interval of a timer (seconds, remaining in (lo, hi]).
void checkTimer(const char* what, int fd, clockid_t clock, int64_t loS, int64_t hiS,
                int64_t intervalS) {
  itimerspec cur{};
  if (!CHECK(timerfd_gettime(fd, &cur) == 0, "%s: timerfd_gettime: %s", what, strerror(errno)))
    return;
  int64_t left = nsOf(cur.it_value);
  CHECK(left > loS * kNs && left <= hiS * kNs, "%s: %.3f s left, want (%lld, %lld]", what,
        double(left) / kNs, static_cast<long long>(loS), static_cast<long long>(hiS));
  CHECK(nsOf(cur.it_interval) == intervalS * kNs, "%s: interval %.3f s, want %lld s", what,
        double(nsOf(cur.it_interval)) / kNs, static_cast<long long>(intervalS));
  std::string c = fdinfoField(fd, "clockid");
  CHECK(c == std::to_string(clock), "%s: clockid %s, want %d", what, c.c_str(), clock);
}

void checkFlags(const char* what, int fd, bool nonblock, bool cloexec) {
  int fl = fcntl(fd, F_GETFL);
  CHECK(((fl & O_NONBLOCK) != 0) == nonblock, "%s (fd %d): O_NONBLOCK is %s", what, fd,
        nonblock ? "off" : "on");
  CHECK(((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0) == cloexec, "%s (fd %d): FD_CLOEXEC is %s", what,
        fd, cloexec ? "off" : "on");
}

uint64_t readTicks(int fd) {
  uint64_t n = 0;
  if (read(fd, &n, sizeof n) != sizeof n) return 0;
  return n;
}

}  // namespace

int main() {
  int mono = timerOrDie(CLOCK_MONOTONIC, 0);
  armOrDie(mono, 0, 1000 * kNs, 0);

  int realAbs = timerOrDie(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  armOrDie(realAbs, TFD_TIMER_ABSTIME, now(CLOCK_REALTIME) + 2000 * kNs, 500 * kNs);

  int boot = timerOrDie(CLOCK_BOOTTIME, TFD_NONBLOCK);
  armOrDie(boot, 0, 3000 * kNs, 0);

  // Expired at -10000.5 s, -9000.5 s, ..., -0.5 s: 11 times; next in 999.5 s.
  int fired = timerOrDie(CLOCK_REALTIME, TFD_NONBLOCK);
  armOrDie(fired, TFD_TIMER_ABSTIME, now(CLOCK_REALTIME) - 10000 * kNs - kNs / 2, 1000 * kNs);

  int oneShot = timerOrDie(CLOCK_MONOTONIC, TFD_NONBLOCK);
  armOrDie(oneShot, 0, 1, 0);
  pollfd pfd{oneShot, POLLIN, 0};
  if (poll(&pfd, 1, 10000) != 1) zdtm::die("the one-shot timerfd did not fire");

  int unarmed = timerOrDie(CLOCK_MONOTONIC, TFD_NONBLOCK);

  zdtm::readyAndWait(zdtm::Wait::Pause);

  checkFlags("monotonic", mono, false, false);
  checkFlags("realtime", realAbs, true, true);
  checkTimer("monotonic", mono, CLOCK_MONOTONIC, 900, 1000, 0);
  checkTimer("realtime absolute", realAbs, CLOCK_REALTIME, 1900, 2000, 500);
  std::string fl = fdinfoField(realAbs, "settime flags");
  CHECK(fl == "01", "realtime absolute: settime flags %s, want 01 (TFD_TIMER_ABSTIME)", fl.c_str());
  checkTimer("boottime", boot, CLOCK_BOOTTIME, 2900, 3000, 0);

  uint64_t n = readTicks(fired);
  CHECK(n == 11, "the periodic timer reads %llu expirations, want 11 (%s)",
        static_cast<unsigned long long>(n), strerror(errno));
  checkTimer("periodic", fired, CLOCK_REALTIME, 900, 1000, 1000);

  n = readTicks(oneShot);
  CHECK(n == 1, "the fired one-shot reads %llu, want 1 (%s)", static_cast<unsigned long long>(n),
        strerror(errno));
  itimerspec cur{};
  CHECK(
      timerfd_gettime(oneShot, &cur) == 0 && nsOf(cur.it_value) == 0 && nsOf(cur.it_interval) == 0,
      "the fired one-shot is armed again");

  CHECK(readTicks(unarmed) == 0 && errno == EAGAIN, "the unarmed timerfd is readable");
  CHECK(timerfd_gettime(unarmed, &cur) == 0 && nsOf(cur.it_value) == 0,
        "the unarmed timerfd is armed");

  // Still a working timer: re-arm one and see it fire.
  armOrDie(boot, 0, kNs / 100, 0);
  pfd = {boot, POLLIN, 0};
  CHECK(poll(&pfd, 1, 10000) == 1 && readTicks(boot) == 1, "a re-armed timerfd does not fire");
  return zdtm::finish();
}
