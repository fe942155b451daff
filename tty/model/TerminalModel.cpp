// libvterm's screen holds the cells; the mode tracker reads the same bytes.
// Replies that libvterm would send to the program (device attributes, cursor
// position reports) are dropped: the user's own terminal sees the same
// queries and answers them, and one answer is all a program expects.
#include "tty/model/TerminalModel.hpp"

#include <new>

namespace ckpt::tty {

bool sameColor(const VTermColor& a, const VTermColor& b) {
  const bool aDefault = a.type & VTERM_COLOR_DEFAULT_MASK;
  const bool bDefault = b.type & VTERM_COLOR_DEFAULT_MASK;
  if (aDefault || bDefault)
    return (a.type & VTERM_COLOR_DEFAULT_MASK) == (b.type & VTERM_COLOR_DEFAULT_MASK);
  if (VTERM_COLOR_IS_INDEXED(&a) != VTERM_COLOR_IS_INDEXED(&b)) return false;
  if (VTERM_COLOR_IS_INDEXED(&a)) return a.indexed.idx == b.indexed.idx;
  return a.rgb.red == b.rgb.red && a.rgb.green == b.rgb.green && a.rgb.blue == b.rgb.blue;
}

bool Style::operator==(const Style& o) const {
  return bold == o.bold && italic == o.italic && blink == o.blink && reverse == o.reverse &&
         strike == o.strike && underline == o.underline && sameColor(fg, o.fg) &&
         sameColor(bg, o.bg);
}

namespace {

void dropReply(const char*, size_t, void*) {}

int onProperty(VTermProp prop, VTermValue* value, void* user) {
  static_cast<TerminalModel*>(user)->onProperty(prop, *value);
  return 1;  // 0 would make libvterm refuse the change (the alternate screen)
}

const VTermScreenCallbacks kScreenCallbacks = {
    nullptr, nullptr, nullptr, onProperty, nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

TerminalModel::TerminalModel(int rows, int cols)
    : vt_(vterm_new(rows, cols)), tracker_(rows, cols), rows_(rows), cols_(cols) {
  if (!vt_) throw std::bad_alloc();
  vterm_set_utf8(vt_.get(), 1);
  vterm_output_set_callback(vt_.get(), dropReply, nullptr);
  screen_ = vterm_obtain_screen(vt_.get());
  state_ = vterm_obtain_state(vt_.get());
  vterm_screen_enable_altscreen(screen_, 1);
  vterm_screen_reset(screen_, 1);
  // After the reset, whose properties are the defaults CursorLook holds.
  vterm_screen_set_callbacks(screen_, &kScreenCallbacks, this);
}

TerminalModel::~TerminalModel() = default;

void TerminalModel::feed(std::string_view bytes) {
  // The tracker reads each piece first; a piece that enters the alternate
  // screen makes us keep the primary one just before the screen reads the
  // same piece. Pieces end before each ESC, so the primary screen is kept
  // exactly as it was when the switching sequence began.
  while (!bytes.empty()) {
    size_t end = bytes.find('\033', 1);
    std::string_view piece = bytes.substr(0, end);
    bytes.remove_prefix(piece.size());
    const bool wasAlt = tracker_.modes().altScreen;
    if (tracker_.feed(piece) && !wasAlt) primary_ = screen();
    vterm_input_write(vt_.get(), piece.data(), piece.size());
    if (!tracker_.modes().altScreen) primary_.reset();
  }
}

void TerminalModel::onProperty(VTermProp prop, const VTermValue& value) {
  switch (prop) {
    case VTERM_PROP_CURSORSHAPE:
      cursorLook_.shape = value.number;
      cursorLook_.set = true;
      break;
    case VTERM_PROP_CURSORBLINK:
      cursorLook_.blink = value.boolean;
      break;
    case VTERM_PROP_ALTSCREEN:
      tracker_.setAltScreen(value.boolean);
      break;
    case VTERM_PROP_TITLE:
      title_ = value.string ? value.string : "";
      break;
    default:
      break;
  }
}

void TerminalModel::resize(int rows, int cols) {
  vterm_set_size(vt_.get(), rows, cols);
  tracker_.resize(rows, cols);
  rows_ = rows;
  cols_ = cols;
  // The kept primary screen stays as it was: a repaint draws what fits.
}

Cell TerminalModel::cell(int row, int col) const {
  VTermScreenCell c;
  vterm_screen_get_cell(screen_, VTermPos{row, col}, &c);
  Cell out;
  if (c.chars[0] == uint32_t(-1)) {
    out.width = 0;  // right half of a wide character
  } else {
    for (int i = 0; i < VTERM_MAX_CHARS_PER_CELL && c.chars[i]; ++i)
      out.chars.push_back(c.chars[i]);
    out.width = c.width;
  }
  out.style.bold = c.attrs.bold;
  out.style.italic = c.attrs.italic;
  out.style.blink = c.attrs.blink;
  out.style.reverse = c.attrs.reverse;
  out.style.strike = c.attrs.strike;
  out.style.underline = c.attrs.underline;
  out.style.fg = c.fg;
  out.style.bg = c.bg;
  return out;
}

ScreenCells TerminalModel::screen() const {
  VTermPos pos = cursor();
  ScreenCells s{rows_, cols_, {}, pos.row, pos.col};
  s.cells.reserve(size_t(rows_) * cols_);
  for (int r = 0; r < rows_; ++r)
    for (int c = 0; c < cols_; ++c) s.cells.push_back(cell(r, c));
  return s;
}

VTermPos TerminalModel::cursor() const {
  VTermPos pos;
  vterm_state_get_cursorpos(state_, &pos);
  return pos;
}

Style TerminalModel::pen() const {
  auto attr = [this](VTermAttr a) {
    VTermValue v;
    vterm_state_get_penattr(state_, a, &v);
    return v;
  };
  Style s;
  s.bold = attr(VTERM_ATTR_BOLD).boolean;
  s.italic = attr(VTERM_ATTR_ITALIC).boolean;
  s.blink = attr(VTERM_ATTR_BLINK).boolean;
  s.reverse = attr(VTERM_ATTR_REVERSE).boolean;
  s.strike = attr(VTERM_ATTR_STRIKE).boolean;
  s.underline = attr(VTERM_ATTR_UNDERLINE).number;
  s.fg = attr(VTERM_ATTR_FOREGROUND).color;
  s.bg = attr(VTERM_ATTR_BACKGROUND).color;
  return s;
}

VTermColor TerminalModel::paletteColor(int index) const {
  VTermColor c;
  vterm_state_get_palette_color(state_, index, &c);
  return c;
}

VTermColor TerminalModel::toRgb(VTermColor color) const {
  vterm_state_convert_color_to_rgb(state_, &color);
  return color;
}

}  // namespace ckpt::tty
