// `ckpt restore --shell-job` lends its terminal to the restored tree (which
// takes its modes and the foreground); this gives it back as it was when the
// tree is done, so the shell that ran ckpt finds its terminal unchanged.
#pragma once

#include <optional>

#include "core/util/UniqueFd.hpp"
#include "tty/pty/Termios.hpp"

namespace ckpt::tty {

class UserTerminal {
 public:
  UserTerminal();  // remembers the modes of the terminal ckpt runs on, if any
  ~UserTerminal();
  UserTerminal(const UserTerminal&) = delete;
  UserTerminal& operator=(const UserTerminal&) = delete;
  // Takes the foreground back (the restored tree stopped or ended).
  void reclaim();
  // Gives the foreground to `pgid` again (the tree was continued).
  void lend(pid_t pgid);

 private:
  UniqueFd fd_;
  std::optional<Termios> modes_;      // the terminal's modes before the restore
  std::optional<Termios> treeModes_;  // the tree's, while it is stopped
};

}  // namespace ckpt::tty
