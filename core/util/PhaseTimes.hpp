// Where a command's time goes, for `-vv`: the time between marks is charged
// to the phase each mark names (a phase marked once per process adds up), and
// the phases are logged together, in the order first seen, at debug level.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt {

class PhaseTimes {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PhaseTimes(std::string what, Clock::time_point start = Clock::now())
      : what_(std::move(what)), start_(start), last_(start) {}
  // Charges the time since the previous mark (or the start) to `phase`.
  void mark(std::string_view phase);
  // "WHAT: a 1.2 ms, b 0.3 ms (x4), ...; total 9.9 ms" at debug level.
  void log() const;

 private:
  struct Phase {
    std::string name;
    double ms = 0;
    int count = 0;
  };
  std::string what_;
  Clock::time_point start_, last_;
  std::vector<Phase> phases_;
};

}  // namespace ckpt
