// Repaint: every capability comes from the terminal's terminfo entry. DEC
// private modes that terminfo has no capability for (application cursor keys
// alone, origin mode, mouse reporting, focus events) are sent only to a
// terminal whose own entry shows it speaks them: its smkx sets DEC mode 1,
// or it reports mouse events (kmous) as xterm does.
#include "tty/model/Repaint.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

namespace ckpt::tty {
namespace {

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

long distance2(const VTermColor& a, const VTermColor& b) {
  long dr = long(a.rgb.red) - b.rgb.red, dg = long(a.rgb.green) - b.rgb.green,
       db = long(a.rgb.blue) - b.rgb.blue;
  return dr * dr + dg * dg + db * db;
}

bool isDefault(const VTermColor& c) {
  return c.type & VTERM_COLOR_DEFAULT_MASK;
}

class Painter {
 public:
  Painter(const TerminalModel& model, const Terminfo& ti, int rows, int cols)
      : model_(model), ti_(ti), rows_(rows), cols_(cols) {
    const std::string smkx = ti.str("smkx");
    decModes_ = smkx.find("\033[?1h") != std::string::npos;
    xtermMouse_ = ti.has("kmous");
  }

  std::string release() {
    const TerminalModes& m = model_.modes();
    emit(ti_.str("sgr0"));
    if (m.hasScrollRegion(model_.rows())) emit(ti_.param("csr", 0, model_.rows() - 1));
    if (m.originMode && decModes_) decMode(6, false);
    if (!m.autowrap) setAutowrap(true);
    if (m.altScreen) emit(ti_.str("rmcup"));
    if (m.cursorKeysApp || m.keypadApp) emit(ti_.str("rmkx"));
    if (m.cursorKeysApp && decModes_) decMode(1, false);
    if (m.bracketedPaste) {
      if (ti_.has("BD"))
        emit(ti_.str("BD"));
      else if (xtermMouse_)
        decMode(2004, false);
    }
    if (xtermMouse_) {
      if (m.focusEvents) decMode(1004, false);
      if (m.mouseEncoding != MouseEncoding::Default) decMode(mouseEncodingMode(m), false);
      if (m.mouse != MouseTracking::Off) decMode(mouseTrackingMode(m), false);
    }
    emit(ti_.str("cnorm"));
    if (model_.cursorLook().set) emit(ti_.str("Se"));
    return std::move(out_);
  }

  std::string run() {
    const TerminalModes& m = model_.modes();
    emit(ti_.str("civis"));
    emit(ti_.str("sgr0"));
    current_ = Style{};
    emit(ti_.param("csr", 0, rows_ - 1));
    setAutowrap(false);  // the last column is painted without scrolling
    if (m.altScreen && ti_.has("smcup")) {
      if (const auto& primary = model_.primaryBehindAlt()) {
        paint(*primary);
        cup(std::min(primary->cursorRow, rows_ - 1), std::min(primary->cursorCol, cols_ - 1));
      }
      setStyle(Style{});
      emit(ti_.str("smcup"));
    }
    paint(model_.screen());
    setModes(m);
    setStyle(model_.pen());
    VTermPos pos = model_.cursor();
    int row = std::min(pos.row, rows_ - 1), col = std::min(pos.col, cols_ - 1);
    if (m.originMode && decModes_ && regionTop_ >= 0) row = std::max(0, row - regionTop_);
    cup(row, col);
    emit(m.cursorVisible ? ti_.str("cnorm") : ti_.str("civis"));
    setCursorLookAndTitle();
    return std::move(out_);
  }

 private:
  void emit(const std::string& s) { out_ += s; }

  // A DEC private mode that terminfo has no capability for (see the top).
  void decMode(int mode, bool on) { out_ += fmt::format("\033[?{}{}", mode, on ? 'h' : 'l'); }

  void cup(int row, int col) { emit(ti_.param("cup", row, col)); }

  void setAutowrap(bool on) {
    if (ti_.has("smam") && ti_.has("rmam"))
      emit(ti_.str(on ? "smam" : "rmam"));
    else if (decModes_)
      decMode(7, on);
  }

  void clearScreen() {
    if (ti_.has("clear")) return emit(ti_.str("clear"));
    cup(0, 0);
    emit(ti_.str("ed"));
  }

  static bool blank(const Cell& c) {
    return (c.chars.empty() || (c.chars.size() == 1 && c.chars[0] == ' ')) && c.style == Style{};
  }

  void paint(const ScreenCells& s) {
    setStyle(Style{});
    clearScreen();
    const int rows = std::min(rows_, s.rows), cols = std::min(cols_, s.cols);
    for (int r = 0; r < rows; ++r) {
      int end = cols;  // past the last cell that is not a blank of the default look
      while (end > 0 && blank(s.at(r, end - 1))) --end;
      if (end == 0) continue;
      cup(r, 0);
      for (int c = 0; c < end; ++c) {
        const Cell& cell = s.at(r, c);
        if (cell.width == 0) continue;                // right half of a wide character
        if (cell.width == 2 && c + 1 >= cols) break;  // does not fit any more
        setStyle(cell.style);
        if (cell.chars.empty()) {
          out_ += ' ';
          continue;
        }
        for (uint32_t ch : cell.chars) appendUtf8(out_, ch);
      }
    }
  }

  void setStyle(const Style& s) {
    if (s == current_) return;
    emit(ti_.str("sgr0"));
    if (s.bold) emit(ti_.str("bold"));
    if (s.underline) {
      if (s.underline != VTERM_UNDERLINE_SINGLE && ti_.has("Smulx"))
        emit(ti_.param("Smulx", s.underline));
      else
        emit(ti_.str("smul"));
    }
    if (s.italic) emit(ti_.str("sitm"));
    if (s.blink) emit(ti_.str("blink"));
    if (s.reverse) emit(ti_.str("rev"));
    if (s.strike) emit(ti_.str("smxx"));
    if (long fg = colorParam(model_, ti_, s.fg); fg >= 0) emit(ti_.param("setaf", fg));
    if (long bg = colorParam(model_, ti_, s.bg); bg >= 0) emit(ti_.param("setab", bg));
    current_ = s;
  }

  void setModes(const TerminalModes& m) {
    regionTop_ = -1;
    if (m.hasScrollRegion(model_.rows())) {
      int top = m.scrollTop, bottom = std::min(m.scrollBottom, rows_ - 1);
      if (top < bottom) {
        emit(ti_.param("csr", top, bottom));
        regionTop_ = top;
      }
    }
    setAutowrap(m.autowrap);
    if (m.originMode && decModes_) decMode(6, true);
    // smkx sets both application cursor keys and keypad; when a program set
    // only one of them, the other is put back with its DEC mode.
    if (m.cursorKeysApp == m.keypadApp) {
      emit(ti_.str(m.keypadApp ? "smkx" : "rmkx"));
    } else if (decModes_) {
      emit(ti_.str(m.keypadApp ? "smkx" : "rmkx"));
      decMode(1, m.cursorKeysApp);
    }
    if (ti_.has("BE") && ti_.has("BD"))
      emit(ti_.str(m.bracketedPaste ? "BE" : "BD"));
    else if (xtermMouse_ && m.bracketedPaste)
      decMode(2004, true);
    if (xtermMouse_) {
      if (m.focusEvents) decMode(1004, true);
      if (m.mouse != MouseTracking::Off) decMode(mouseTrackingMode(m), true);
      if (m.mouseEncoding != MouseEncoding::Default) decMode(mouseEncodingMode(m), true);
    }
  }

  void setCursorLookAndTitle() {
    const CursorLook& c = model_.cursorLook();
    if (c.set) {  // DECSCUSR numbering: 1/2 block, 3/4 underline, 5/6 bar; odd ones blink
      int base = c.shape == VTERM_PROP_CURSORSHAPE_UNDERLINE  ? 3
                 : c.shape == VTERM_PROP_CURSORSHAPE_BAR_LEFT ? 5
                                                              : 1;
      emit(ti_.param("Ss", base + (c.blink ? 0 : 1)));
    }
    if (!model_.title().empty() && ti_.has("tsl") && ti_.has("fsl"))
      out_ += ti_.param("tsl", 0) + model_.title() + ti_.str("fsl");
  }

  static int mouseTrackingMode(const TerminalModes& m) {
    switch (m.mouse) {
      case MouseTracking::X10:
        return 9;
      case MouseTracking::Click:
        return 1000;
      case MouseTracking::Drag:
        return 1002;
      default:
        return 1003;
    }
  }

  static int mouseEncodingMode(const TerminalModes& m) {
    switch (m.mouseEncoding) {
      case MouseEncoding::Utf8:
        return 1005;
      case MouseEncoding::Sgr:
        return 1006;
      default:
        return 1015;
    }
  }

  const TerminalModel& model_;
  const Terminfo& ti_;
  const int rows_, cols_;
  bool decModes_ = false, xtermMouse_ = false;
  int regionTop_ = -1;
  Style current_;
  std::string out_;
};

}  // namespace

long colorParam(const TerminalModel& model, const Terminfo& ti, const VTermColor& color) {
  const int colors = ti.num("colors");
  if (isDefault(color) || colors <= 0 || !ti.has("setaf")) return -1;
  // A direct-colour entry (RGB flag, or 2^24 colours) takes 0xRRGGBB; its
  // values below 8 are palette entries.
  const bool direct = ti.flag("RGB") || colors >= (1 << 24);
  if (VTERM_COLOR_IS_INDEXED(&color)) {
    const int idx = color.indexed.idx;
    if (idx < colors && (!direct || idx < 8)) return idx;
    if (colors == 8 && idx < 16) return idx - 8;  // bright to normal
  }
  const VTermColor rgb = model.toRgb(color);
  if (direct) {
    long packed = (long(rgb.rgb.red) << 16) | (long(rgb.rgb.green) << 8) | rgb.rgb.blue;
    return std::max(packed, 8L);
  }
  // The nearest palette entry; with 256 colours, only the fixed cube and
  // grey ramp (16-255): users redefine the first 16.
  const int first = colors >= 256 ? 16 : 0, last = std::min(colors, 256);
  long best = first, bestDistance = LONG_MAX;
  for (int i = first; i < last; ++i) {
    long d = distance2(model.toRgb(model.paletteColor(i)), rgb);
    if (d < bestDistance) best = i, bestDistance = d;
  }
  return best;
}

std::string repaint(const TerminalModel& model, const Terminfo& ti, int rows, int cols) {
  return Painter(model, ti, rows, cols).run();
}

std::string release(const TerminalModel& model, const Terminfo& ti) {
  return Painter(model, ti, model.rows(), model.cols()).release();
}

}  // namespace ckpt::tty
