// Starts a command on a new pseudo-terminal: the command leads its own
// session with the pty's slave as controlling terminal and fds 0, 1, 2;
// the caller keeps the master.
#pragma once

#include <sys/types.h>
#include <termios.h>

#include <optional>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"
#include "tty/run/OuterTerminal.hpp"

namespace ckpt::tty {

struct SpawnedPty {
  UniqueFd master;  // non-blocking, close-on-exec
  pid_t pid = -1;
};

// Runs argv[0] (searched in PATH) on a new pty of `size`. Its modes are the
// kernel's sane defaults with UTF-8 input, and the erase character of
// `userModes` when there is a user's terminal. The child starts with every
// signal unblocked and at its default. Throws Error when the command
// cannot be run (its errno is reported back before this returns).
SpawnedPty spawnOnPty(const std::vector<std::string>& argv, WindowSize size,
                      const std::optional<termios>& userModes);

// Tells the pty's programs the new window size (the kernel sends SIGWINCH
// to the foreground process group).
void setPtySize(int master, WindowSize size);

}  // namespace ckpt::tty
