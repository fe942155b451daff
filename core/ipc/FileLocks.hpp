// File locks held by processes of the tree: POSIX record locks (fcntl
// F_SETLK), open file description locks (F_OFD_SETLK) and flock() locks.
// Read from the "lock:" lines of /proc/PID/fdinfo/FD, which name the fd a
// lock was taken through; taken again from inside the same process once its
// fds are in place.
#pragma once

#include "core/image/Model.hpp"

namespace ckpt {

struct RestoredProcess;
struct ScratchLayout;

namespace ipc {

// After every process's fds are saved. Leases and mandatory locks are refused.
void dumpFileLocks(image::Image& img);

// After restoreFds(p): the locks `p` held. A lock that another process holds
// now throws an Error naming the pid, fd, file and range.
void restoreFileLocks(RestoredProcess& p, const ScratchLayout& s, const image::Image& img);

}  // namespace ipc
}  // namespace ckpt
