// CKPT_FAULT: read once, then compared at every point.
#include "core/util/Fault.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::fault {
namespace {

struct Armed {
  std::string name;
  enum class Mode { Fail, Crash, Stop } mode = Mode::Fail;
};

bool known(std::string_view name) {
  return std::any_of(kPoints.begin(), kPoints.end(),
                     [&](const Point& p) { return p.name == name; });
}

// Immutable once read: CKPT_FAULT does not change while ckpt runs.
const Armed& armed() {
  static const Armed a = [] {
    Armed r;
    const char* env = std::getenv("CKPT_FAULT");
    if (!env || !*env) return r;
    std::string_view s(env);
    if (s.ends_with(":crash")) {
      r.mode = Armed::Mode::Crash;
      s.remove_suffix(6);
    } else if (s.ends_with(":stop")) {
      r.mode = Armed::Mode::Stop;
      s.remove_suffix(5);
    }
    r.name = s;
    if (!known(r.name)) throw Error(fmt::format("CKPT_FAULT={}: no such fault point", env));
    return r;
  }();
  return a;
}

}  // namespace

void point(std::string_view name) {
  if (!known(name)) throw Error(fmt::format("internal: fault point '{}' is not listed", name));
  const Armed& a = armed();
  if (a.name != name) return;
  if (a.mode == Armed::Mode::Crash) {
    log::debug("fault point {}: crashing", name);
    kill(getpid(), SIGKILL);
    pause();
  }
  if (a.mode == Armed::Mode::Stop) {
    log::debug("fault point {}: stopping until continued", name);
    kill(getpid(), SIGSTOP);
    return;
  }
  throw Error(fmt::format("fault injected at {} (CKPT_FAULT)", name));
}

}  // namespace ckpt::fault
