// The terminal model of `ckpt run`: a libvterm screen fed with every byte the
// program writes, plus the modes libvterm does not expose (ModeTracker), so
// that Repaint can draw the same screen on another terminal.
#pragma once

#include <vterm.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tty/model/ModeTracker.hpp"

namespace ckpt::tty {

inline VTermColor defaultColor(uint8_t which) {  // VTERM_COLOR_DEFAULT_FG or _BG
  VTermColor c{};
  c.type = which;
  return c;
}

// The look of a cell or of the pen: attributes and colours. A default-made
// Style is the terminal's default look.
struct Style {
  bool bold = false, italic = false, blink = false, reverse = false, strike = false;
  int underline = 0;  // VTERM_UNDERLINE_*
  VTermColor fg = defaultColor(VTERM_COLOR_DEFAULT_FG), bg = defaultColor(VTERM_COLOR_DEFAULT_BG);
  bool operator==(const Style& o) const;
};

bool sameColor(const VTermColor& a, const VTermColor& b);

struct Cell {
  std::vector<uint32_t> chars;  // base character then combining marks; empty: blank
  int width = 1;                // 2 for the first column of a wide character, 0 for its second
  Style style;
};

// One screen's cells, row-major; the primary screen kept while the
// alternate one is shown.
struct ScreenCells {
  int rows = 0, cols = 0;
  std::vector<Cell> cells;
  int cursorRow = 0, cursorCol = 0;
  const Cell& at(int row, int col) const { return cells[size_t(row) * cols + col]; }
};

// What a program set with DECSCUSR and OSC 0/2, which libvterm reports as
// terminal properties.
struct CursorLook {
  bool set = false;  // a program chose a cursor shape (else: the terminal's own)
  int shape = VTERM_PROP_CURSORSHAPE_BLOCK;
  bool blink = true;
  bool operator==(const CursorLook&) const = default;
};

class TerminalModel {
 public:
  TerminalModel(int rows, int cols);
  ~TerminalModel();
  TerminalModel(const TerminalModel&) = delete;
  TerminalModel& operator=(const TerminalModel&) = delete;

  void feed(std::string_view bytes);
  // A new window size, as a terminal emulator resizes: libvterm decides what
  // stays on screen.
  void resize(int rows, int cols);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  Cell cell(int row, int col) const;  // of the screen shown (the alternate one when active)
  ScreenCells screen() const;
  // The primary screen as it was when the alternate screen was entered
  // (empty when the primary one is shown).
  const std::optional<ScreenCells>& primaryBehindAlt() const { return primary_; }
  VTermPos cursor() const;
  Style pen() const;  // what the program's next characters will look like
  const TerminalModes& modes() const { return tracker_.modes(); }
  const CursorLook& cursorLook() const { return cursorLook_; }
  const std::string& title() const { return title_; }

  // libvterm's report of a property (public for its C callback).
  void onProperty(VTermProp prop, const VTermValue& value);
  // The palette entry `index` as RGB (for mapping colours to fewer colours).
  VTermColor paletteColor(int index) const;
  VTermColor toRgb(VTermColor color) const;

 private:
  struct VTermDeleter {
    void operator()(VTerm* vt) const { vterm_free(vt); }
  };
  std::unique_ptr<VTerm, VTermDeleter> vt_;
  VTermScreen* screen_;
  VTermState* state_;
  ModeTracker tracker_;
  int rows_, cols_;
  std::optional<ScreenCells> primary_;
  CursorLook cursorLook_;
  std::string title_;
};

}  // namespace ckpt::tty
