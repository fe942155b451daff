// What `ckpt run` does when its tree was restored onto the terminal that
// `ckpt restore --shell-job` runs in: read the restore's options, then
// bring the model to the new window size and paint it there.
#pragma once

#include <string>

#include "tty/model/TerminalModel.hpp"
#include "tty/run/OuterTerminal.hpp"

namespace ckpt::tty {

struct RestartOptions {
  bool shellJob = false;  // "shell-job":"1": the tree was given the restore's terminal
  std::string term;       // "TERM": that terminal's TERM ("" when not given)
};

// The options of a `restarted` hook event (the JSON object of the options).
RestartOptions parseRestartOptions(const char* optionsJson);

// Resizes `model` to `size` (as a terminal does: libvterm keeps what stays
// on screen) and returns the bytes that paint it on a terminal of type
// `term`. Throws Error when `term` has no terminfo entry.
std::string redrawOnNewTerminal(TerminalModel& model, const std::string& term, WindowSize size);

}  // namespace ckpt::tty
