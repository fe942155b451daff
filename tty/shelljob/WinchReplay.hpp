// The SIGWINCH replay: a full-screen program restored onto a terminal whose
// screen it never drew is told the window changed to a slightly different
// size, then (once its redraw has settled) to the true size, so it redraws
// everything: screen with its hardstatus line and scroll region, vim, htop.
#pragma once

#include <sys/types.h>

#include <vector>

namespace ckpt::tty {

// `terminal` is the tree's controlling terminal (a slave fd), whose
// foreground group is the restored program; `tree` its processes, whose
// output is watched to tell when a redraw is over.
void replayWinch(int terminal, const std::vector<pid_t>& tree);

}  // namespace ckpt::tty
