// The model is resized before it is painted, so what is painted is exactly
// what the program's screen holds at the new size; the program is told the
// size after that and redraws if it cares.
#include "tty/run/Restart.hpp"

#include "ckpt_hook.h"
#include "tty/model/Repaint.hpp"
#include "tty/model/Terminfo.hpp"

namespace ckpt::tty {

RestartOptions parseRestartOptions(const char* optionsJson) {
  RestartOptions o;
  char value[256];
  if (ckpt_hook_option(optionsJson, "shell-job", value, sizeof value) >= 0)
    o.shellJob = std::string(value) == "1";
  if (ckpt_hook_option(optionsJson, "TERM", value, sizeof value) >= 0) o.term = value;
  return o;
}

std::string redrawOnNewTerminal(TerminalModel& model, const std::string& term, WindowSize size) {
  Terminfo ti(term);  // first: an unknown TERM changes nothing
  if (size.rows != model.rows() || size.cols != model.cols()) model.resize(size.rows, size.cols);
  return repaint(model, ti, size.rows, size.cols);
}

}  // namespace ckpt::tty
