// What makes an injected-call session safe to abandon: if ckpt dies (even by
// SIGKILL) while it drives a thread, the kernel lets the thread go with
// whatever registers it has then. So before the first injected call, a
// signal frame holding the thread's own registers, signal mask and FPU/AVX
// state is written below its red zone (where the kernel itself would put
// one), and every injected call runs from a `syscall; ret` whose `ret` lands
// in libc's `__restore_rt` (rt_sigreturn) with that frame. Abandoned at any
// stop, the thread finishes at most the one injected query it was given and
// then the kernel restores its exact context. See DESIGN.md.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/ptrace/RemotePtr.hpp"

namespace ckpt {

class RemoteMemory;
class Tracee;

// Where gadgets were found in one process, by file and position, so that
// the next process mapping the same libc (most of a tree) needs no search
// through its code: only a check of the bytes there.
struct GadgetCache {
  struct Where {
    uint64_t dev = 0, inode = 0, filePos = 0;
  };
  std::optional<Where> syscallRet, restoreRt;
};

// Code the frame needs, found in the tracee's own executable mappings (glibc
// and musl both have them): never written by ckpt.
struct RollbackGadgets {
  RemotePtr syscallRet;  // 0f 05 c3: syscall; ret
  RemotePtr restoreRt;   // 48 c7 c0 0f 00 00 00 0f 05: mov $15,%rax; syscall
  // Nullopt when the process has no such code (no libc: a bare static binary).
  static std::optional<RollbackGadgets> find(pid_t pid, GadgetCache* cache = nullptr);
};

struct RollbackFrame {
  user_regs_struct idle{};  // let go with these, the thread undoes everything
  RemotePtr scratch;        // free stack memory below the frame for call arguments
  size_t scratchSize = 0;
};

// Writes the frame for a thread stopped with `saved` and `savedMask`.
// Nullopt (nothing written) when the stack has no room or the FPU state
// has no layout the kernel's rt_sigreturn accepts.
std::optional<RollbackFrame> writeRollbackFrame(const Tracee& tracee, RemoteMemory& mem,
                                                const RollbackGadgets& gadgets,
                                                const user_regs_struct& saved, uint64_t savedMask);

// The registers a thread stopped in an interrupted system call must get back
// to carry on as if never stopped, when no tracer is there to settle it:
// the call is restarted (a nanosleep sleeps its full time again).
user_regs_struct restartedSyscallRegs(const user_regs_struct& regs);

}  // namespace ckpt
