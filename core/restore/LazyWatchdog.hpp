// The watchdog of a lazy restore's page server (core/restore/LazyPages.hpp):
// a child of ckpt that holds a reference to every userfaultfd of the tree,
// so that none closes when the server dies, and kills the tree if the
// server ends before every page is in.
#pragma once

#include <sys/types.h>

#include <vector>

#include "core/util/UniqueFd.hpp"

namespace ckpt {

// Messages from the server on the channel (a SOCK_SEQPACKET socket).
inline constexpr char kWatchdogKeep = 'F';  // carries a userfaultfd to hold
inline constexpr char kWatchdogDone = 'D';  // every page is in: let go

// Runs until the server says kWatchdogDone, then exits 0 (closing what it
// held). When the channel closes without it, SIGKILLs every pid of `tree`
// and all their descendants before its references go, and exits 1.
[[noreturn]] void runLazyWatchdog(UniqueFd channel, const std::vector<pid_t>& tree);

// The server's side: sends `what`, with `fd` attached when it is >= 0.
void tellWatchdog(int channel, char what, int fd = -1);

}  // namespace ckpt
