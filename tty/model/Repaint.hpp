// Draws a terminal model's screen on a real terminal through that terminal's
// terminfo entry: the bytes that make it show what the model shows.
#pragma once

#include <string>

#include "tty/model/TerminalModel.hpp"
#include "tty/model/Terminfo.hpp"

namespace ckpt::tty {

// The bytes that paint `model` (cells, colours and attributes, the primary
// screen behind an alternate one, scroll region, modes, pen, cursor) on a
// terminal described by `ti` of `rows` x `cols`, which may differ from the
// model's size: what fits is painted, from the top left.
std::string repaint(const TerminalModel& model, const Terminfo& ti, int rows, int cols);

// The bytes that give a terminal of `ti` back to a shell after the program
// of `model` goes away without doing it (its tree killed after a dump):
// primary screen, whole scroll region, default look, visible cursor, normal
// keys, no bracketed paste, mouse or focus reports.
std::string release(const TerminalModel& model, const Terminfo& ti);

// The terminfo colour parameter (setaf/setab) that shows `color` best on a
// terminal of `ti`; -1 for the default colour or a terminal without colours.
long colorParam(const TerminalModel& model, const Terminfo& ti, const VTermColor& color);

}  // namespace ckpt::tty
