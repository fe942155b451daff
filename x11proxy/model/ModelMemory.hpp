// How much memory the proxy's model of one client takes: what a user pays
// for running a program under `ckpt x11 run`, reported with the model
// (SIGUSR1) and in the README.
#pragma once

#include <cstddef>

#include "x11proxy/model/ClientModel.hpp"

namespace ckpt::x11 {

// The heap bytes the model holds: its objects, their values and recorded
// requests, and an allocator's overhead per tree node, as libstdc++ lays them out.
std::size_t modelMemory(const ClientModel& model);

}  // namespace ckpt::x11
