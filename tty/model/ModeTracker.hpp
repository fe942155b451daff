// Follows the modes of TerminalModes from the same bytes the screen model
// reads, with a parser-only libvterm (its own parser, our callbacks).
#pragma once

#include <cstddef>
#include <string_view>

#include "tty/model/TerminalModes.hpp"

struct VTerm;

namespace ckpt::tty {

class ModeTracker {
 public:
  ModeTracker(int rows, int cols);
  ~ModeTracker();
  ModeTracker(const ModeTracker&) = delete;
  ModeTracker& operator=(const ModeTracker&) = delete;

  // Parses `bytes`; returns true when they switched to the alternate screen
  // from the primary one (the model keeps the primary screen then).
  bool feed(std::string_view bytes);
  void resize(int rows, int cols);
  const TerminalModes& modes() const { return modes_; }
  // What libvterm did: it alone decides which screen is shown.
  void setAltScreen(bool on) { modes_.altScreen = on; }

  // Parser callbacks (public for the C trampolines in ModeTracker.cpp).
  void onCsi(const char* leader, const long args[], int argc, const char* intermed, char command);
  void onEscape(std::string_view bytes);

 private:
  void setDecMode(long mode, bool on);
  void softReset();

  VTerm* vt_;
  int rows_;
  TerminalModes modes_;
  bool enteredAlt_ = false;
};

}  // namespace ckpt::tty
