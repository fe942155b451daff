// Where to find a `syscall` instruction in a tracee: the vDSO is the same
// kernel image in every process, so an offset found in ckpt's own vDSO holds
// in all of them and no code ever has to be written into a program.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include "core/ptrace/RemotePtr.hpp"

namespace ckpt {

// Offset of bytes 0f 05 inside the vDSO.
uint64_t vdsoSyscallOffset();
// The instruction inside `pid`'s vDSO; throws if the process has no vDSO.
RemotePtr syscallInsnOf(pid_t pid);

}  // namespace ckpt
