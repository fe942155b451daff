// PhaseTimes (see PhaseTimes.hpp).
#include "core/util/PhaseTimes.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/util/Log.hpp"

namespace ckpt {

void PhaseTimes::mark(std::string_view phase) {
  const Clock::time_point now = Clock::now();
  const double ms = std::chrono::duration<double, std::milli>(now - last_).count();
  last_ = now;
  auto it =
      std::find_if(phases_.begin(), phases_.end(), [&](const Phase& p) { return p.name == phase; });
  if (it == phases_.end()) it = phases_.insert(phases_.end(), Phase{std::string(phase), 0, 0});
  it->ms += ms;
  it->count++;
}

void PhaseTimes::log() const {
  if (log::level() < log::Level::Debug) return;
  std::string out = what_ + ":";
  for (const Phase& p : phases_) {
    out += fmt::format(" {} {:.2f} ms", p.name, p.ms);
    if (p.count > 1) out += fmt::format(" (x{})", p.count);
    out += ',';
  }
  out += fmt::format(" total {:.2f} ms",
                     std::chrono::duration<double, std::milli>(last_ - start_).count());
  log::debug("{}", out);
}

}  // namespace ckpt
