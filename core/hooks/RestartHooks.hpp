// The restore side of the hooks: once the restored tree runs, tell every
// hook the image recorded that its process runs again (PROTOCOL.md).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt::hooks {

// Sends `restarted` with the options to every hook and waits for the
// answers, all within one timeout. Returns one message per hook that failed
// ("pid 42 hook ckpt-hook:x: ..."); empty when all answered ok.
std::vector<std::string> notifyRestarted(const std::vector<image::Hook>& hooks,
                                         const std::map<std::string, std::string>& options,
                                         std::chrono::milliseconds timeout);

}  // namespace ckpt::hooks
