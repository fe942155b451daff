// Puts back everything of a process but its memory: file descriptors, cwd,
// root, umask, personality, rlimits, signal handlers, timers, threads with
// their registers and per-thread state, credentials and pending signals.
#pragma once

#include "core/fds/FdKind.hpp"
#include "core/restore/RestoredProcess.hpp"
#include "core/restore/TreeBuilder.hpp"

namespace ckpt {

void restoreFds(RestoredProcess& p, const ScratchLayout& s, FdRestoreContext& ctx);
void restoreProcessState(RestoredProcess& p, const ScratchLayout& s);
// Creates the other threads, then the POSIX timers (which may signal one of
// them), sets every thread's state, queues pending
// signals, removes the scratch area and leaves every thread stopped with its
// final registers, ready to be detached.
void restoreThreads(RestoredProcess& p, const ScratchLayout& s, TreeBuilder& tree);

}  // namespace ckpt
