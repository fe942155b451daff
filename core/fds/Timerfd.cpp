// timerfd: clock, remaining time, interval and the expirations not yet read.
// Brought back in ckpt: timerfd_create, timerfd_settime with the remaining
// time, then TFD_IOC_SET_TICKS for the unread expirations.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/timerfd.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/util/Error.hpp"

// <linux/timerfd.h> has it, but clashes with glibc's <sys/timerfd.h>.
#ifndef TFD_IOC_SET_TICKS
#define TFD_IOC_SET_TICKS _IOW('T', 0, uint64_t)
#endif

namespace ckpt {
namespace {

constexpr int64_t kNs = 1000000000;

bool matches(const FdProbe& p) {
  return p.link == "anon_inode:[timerfd]";
}

struct TimerState {
  int clockid = 0;
  uint64_t ticks = 0;
  int settimeFlags = 0;
  int64_t valueNs = 0;
  int64_t intervalNs = 0;
};

const std::string& field(const FdProbe& p, const proc::FdInfo& info, const char* key) {
  auto it = info.fields.find(key);
  if (it == info.fields.end())
    throw Error(
        fmt::format("pid {} fd {} (timerfd): fdinfo has no '{}' line; this kernel is too "
                    "old for ckpt to save a timerfd",
                    p.pid, p.fd, key));
  return it->second;
}

[[noreturn]] void badField(const FdProbe& p, const char* key, const std::string& value) {
  throw Error(fmt::format("pid {} fd {} (timerfd): cannot read '{}: {}' in its fdinfo", p.pid, p.fd,
                          key, value));
}

int64_t number(const FdProbe& p, const proc::FdInfo& info, const char* key, int base) {
  const std::string& v = field(p, info, key);
  try {
    size_t used = 0;
    long long n = std::stoll(v, &used, base);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  badField(p, key, v);
}

// "(995, 13055016)": seconds and nanoseconds.
int64_t timespecNs(const FdProbe& p, const proc::FdInfo& info, const char* key) {
  const std::string& v = field(p, info, key);
  long long sec = 0, nsec = 0;
  int end = 0;
  if (std::sscanf(v.c_str(), "(%lld, %lld)%n", &sec, &nsec, &end) != 2 || size_t(end) != v.size())
    badField(p, key, v);
  return sec * kNs + nsec;
}

TimerState readState(const FdProbe& p) {
  proc::FdInfo info =
      proc::parseFdinfo(proc::readProcFile(fmt::format("/proc/self/fdinfo/{}", p.local.get())));
  TimerState s;
  s.clockid = int(number(p, info, "clockid", 10));
  s.ticks = uint64_t(number(p, info, "ticks", 10));
  s.settimeFlags = int(number(p, info, "settime flags", 8));
  s.valueNs = timespecNs(p, info, "it_value");
  s.intervalNs = timespecNs(p, info, "it_interval");
  return s;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::Timerfd;
  // A periodic timer that expired is not re-armed (nor are its overruns
  // counted in "ticks") until someone reads it or asks timerfd_gettime, which
  // does so without consuming anything. Ask, then read fdinfo: its fields are
  // taken together under the timer's lock. If it expired again in between,
  // ask again.
  TimerState s;
  for (int tries = 0;; ++tries) {
    itimerspec cur{};
    if (timerfd_gettime(p.local.get(), &cur) != 0)
      throwErrno(fmt::format("pid {} fd {} (timerfd): timerfd_gettime", p.pid, p.fd));
    s = readState(p);
    if (s.valueNs != 0 || s.intervalNs == 0) break;
    if (tries == 100) {
      s.valueNs = s.intervalNs;  // expires faster than we can look: next one in one period
      break;
    }
  }
  d.state = {{"clockid", s.clockid},
             {"ticks", s.ticks},
             {"settime_flags", s.settimeFlags},
             {"value_ns", s.valueNs},
             {"interval_ns", s.intervalNs}};
}

timespec toTimespec(int64_t ns) {
  return {time_t(ns / kNs), long(ns % kNs)};
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  int clockid = d.state.at("clockid").get<int>();
  uint64_t ticks = d.state.at("ticks").get<uint64_t>();
  int settimeFlags = d.state.at("settime_flags").get<int>();
  int64_t valueNs = d.state.at("value_ns").get<int64_t>();
  int64_t intervalNs = d.state.at("interval_ns").get<int64_t>();
  UniqueFd fd(timerfd_create(clockid, TFD_CLOEXEC | (d.flags & O_NONBLOCK ? TFD_NONBLOCK : 0)));
  if (!fd) throwErrno(fmt::format("creating a timerfd on clock {}", clockid));
  if (valueNs != 0) {
    // The remaining time continues from where the dump left it. A timer set
    // with an absolute time keeps that mode (and TFD_TIMER_CANCEL_ON_SET):
    // its new deadline is now plus what remained.
    int flags = settimeFlags & (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
    int64_t startNs = 0;
    if (flags & TFD_TIMER_ABSTIME) {
      timespec now{};
      if (clock_gettime(clockid, &now) != 0)
        throwErrno(fmt::format("reading clock {} for an absolute timerfd", clockid));
      startNs = int64_t(now.tv_sec) * kNs + now.tv_nsec;
    }
    itimerspec its{toTimespec(intervalNs), toTimespec(startNs + valueNs)};
    if (timerfd_settime(fd.get(), flags, &its, nullptr) != 0)
      throwErrno(fmt::format("arming a restored timerfd (clock {}, {} ns left, every {} ns)",
                             clockid, valueNs, intervalNs));
  }
  if (ticks != 0 && ioctl(fd.get(), TFD_IOC_SET_TICKS, &ticks) != 0)
    throwErrno(
        fmt::format("giving a restored timerfd its {} unread expirations "
                    "(TFD_IOC_SET_TICKS needs CONFIG_CHECKPOINT_RESTORE)",
                    ticks));
  return fd;
}

}  // namespace

extern const FdKind kTimerfdKind{"timerfd", matches, dump, restore, {image::FileKind::Timerfd},
                                 nullptr};

}  // namespace ckpt
