// tty/model: the terminal model, its mode tracking and the repaint through
// terminfo. Each repaint is fed to a fresh model, which must then show the
// same cells, colours, attributes, cursor, pen and modes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/util/Error.hpp"
#include "tty/model/Repaint.hpp"
#include "tty/model/TerminalModel.hpp"
#include "tty/model/Terminfo.hpp"
#include "tty/run/Restart.hpp"

namespace ckpt::tty {
namespace {

const char* const kTerms[] = {"xterm-256color", "screen", "tmux-256color"};

bool blankChars(const Cell& c) {
  return c.chars.empty() || (c.chars.size() == 1 && c.chars[0] == ' ');
}

std::string text(const TerminalModel& m, int row) {
  std::string out;
  for (int c = 0; c < m.cols(); ++c) {
    Cell cell = m.cell(row, c);
    if (cell.width == 0) continue;
    if (cell.chars.empty()) out += ' ';
    for (uint32_t ch : cell.chars) out += ch < 0x80 ? char(ch) : '?';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// The colour a terminal of `ti` shows for `c` after a repaint.
VTermColor shownColor(const TerminalModel& m, const Terminfo& ti, const VTermColor& c) {
  long p = colorParam(m, ti, c);
  if (p < 0) return c;  // default stays default
  VTermColor out;
  vterm_color_indexed(&out, uint8_t(p));
  return out;
}

// What a terminal of `ti` can show of `s`.
Style shown(const TerminalModel& m, const Terminfo& ti, Style s) {
  if (!ti.has("sitm")) s.italic = false;
  if (!ti.has("smxx")) s.strike = false;
  if (!ti.has("blink")) s.blink = false;
  if (s.underline && !ti.has("Smulx")) s.underline = VTERM_UNDERLINE_SINGLE;
  s.fg = shownColor(m, ti, s.fg);
  s.bg = shownColor(m, ti, s.bg);
  return s;
}

void expectSameScreen(const TerminalModel& want, const TerminalModel& got, const Terminfo& ti,
                      int rows, int cols) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      SCOPED_TRACE(testing::Message() << ti.name() << " cell " << r << "," << c);
      Cell w = want.cell(r, c), g = got.cell(r, c);
      if (w.width == 2 && c + 1 >= cols) continue;  // a wide character cut at the edge
      if (blankChars(w))
        EXPECT_TRUE(blankChars(g)) << "got U+" << std::hex << g.chars[0];
      else
        EXPECT_EQ(w.chars, g.chars);
      EXPECT_EQ(w.width, g.width);
      EXPECT_TRUE(shown(want, ti, w.style) == g.style);
    }
}

// A fresh model of rows x cols that was sent the repaint of `model`.
std::unique_ptr<TerminalModel> repainted(const TerminalModel& model, const Terminfo& ti, int rows,
                                         int cols) {
  auto fresh = std::make_unique<TerminalModel>(rows, cols);
  fresh->feed(repaint(model, ti, rows, cols));
  return fresh;
}

// Repaints `model` for `term` at the model's size, into a fresh model.
void expectRepaintsExactly(const TerminalModel& model, const char* term) {
  Terminfo ti(term);
  auto owned = repainted(model, ti, model.rows(), model.cols());
  TerminalModel& fresh = *owned;
  SCOPED_TRACE(term);
  expectSameScreen(model, fresh, ti, model.rows(), model.cols());
  EXPECT_EQ(model.cursor().row, fresh.cursor().row);
  EXPECT_EQ(model.cursor().col, fresh.cursor().col);
  EXPECT_EQ(model.modes(), fresh.modes());
  EXPECT_TRUE(shown(model, ti, model.pen()) == fresh.pen());
  // Blinking alone also follows DEC mode 12, which some cnorm strings set.
  if (ti.has("Ss") && model.cursorLook().set) {
    EXPECT_EQ(model.cursorLook(), fresh.cursorLook());
  }
  if (ti.has("tsl")) {
    EXPECT_EQ(model.title(), fresh.title());
  }
}

const char kStyled[] =
    "\033[1mbold\033[0m \033[4munder\033[0m \033[3mitalic\033[0m \033[7mrev\033[0m "
    "\033[5mblink\033[0m \033[9mstrike\033[0m \033[4:2mdouble\033[0m\r\n"
    "\033[31;42mred on green\033[0m \033[38;5;200mpink\033[48;5;17mon navy\033[0m "
    "\033[91mbright\033[0m \033[38;2;255;128;0mrgb\033[48;2;10;10;10mdark\033[0m\r\n"
    "wide \xe6\xbc\xa2\xe5\xad\x97 end, e\xcc\x81 combining, a\xcc\x81\xcc\xa7 two\r\n"
    "\033[44m   blue blanks   \033[0m then \033[1;4;7;33mall\033[0m\r\n"
    "\033[10;70Hfar \033[K\033[20;75Hcorner!!\033[24;1Hlast row\033[24;79H\033[1;35m";

TEST(TtyModel, HoldsWhatWasWritten) {
  TerminalModel m(24, 80);
  m.feed(kStyled);
  EXPECT_EQ(text(m, 0), "bold under italic rev blink strike double");
  EXPECT_TRUE(m.cell(0, 0).style.bold);
  EXPECT_EQ(m.cell(0, 5).style.underline, VTERM_UNDERLINE_SINGLE);
  EXPECT_EQ(m.cell(0, 36).style.underline, VTERM_UNDERLINE_DOUBLE);
  Cell wide = m.cell(2, 5);
  EXPECT_EQ(wide.width, 2);
  EXPECT_EQ(m.cell(2, 6).width, 0);
  EXPECT_EQ(wide.chars, std::vector<uint32_t>{0x6f22});
  EXPECT_EQ(m.cell(2, 15).chars, (std::vector<uint32_t>{'e', 0x301}));
  const VTermColor red = m.cell(1, 0).style.fg, orange = m.cell(1, 48).style.fg;
  EXPECT_TRUE(VTERM_COLOR_IS_INDEXED(&red));
  EXPECT_EQ(red.indexed.idx, 1);
  EXPECT_TRUE(VTERM_COLOR_IS_RGB(&orange));
  EXPECT_EQ(m.cursor().row, 23);
  EXPECT_EQ(m.cursor().col, 78);
  EXPECT_TRUE(m.pen().bold);
}

TEST(TtyModel, RepaintsCellsColoursAndPen) {
  TerminalModel m(24, 80);
  m.feed(kStyled);
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
}

TEST(TtyModel, TracksModes) {
  TerminalModel m(24, 80);
  EXPECT_EQ(m.modes(), TerminalModes{});
  m.feed("\033[3;20r\033[?1h\033=\033[?2004h\033[?1002;1006h\033[?25l\033[?7l\033[?1004h");
  TerminalModes want;
  want.scrollTop = 2;
  want.scrollBottom = 19;
  want.cursorKeysApp = want.keypadApp = want.bracketedPaste = want.focusEvents = true;
  want.mouse = MouseTracking::Drag;
  want.mouseEncoding = MouseEncoding::Sgr;
  want.cursorVisible = want.autowrap = false;
  EXPECT_EQ(m.modes(), want);
  m.feed("\033[!p");  // soft reset
  EXPECT_EQ(m.modes().scrollBottom, -1);
  EXPECT_FALSE(m.modes().cursorKeysApp);
  EXPECT_TRUE(m.modes().bracketedPaste);
  m.feed("\033[?1049h\033c");
  TerminalModes afterReset;
  afterReset.altScreen = true;  // as libvterm, whose cells the model shows
  EXPECT_EQ(m.modes(), afterReset);
  m.feed("\033[?1049l");
  EXPECT_EQ(m.modes(), TerminalModes{});
  // A sequence split across two reads.
  m.feed("\033[?10");
  m.feed("00h");
  EXPECT_EQ(m.modes().mouse, MouseTracking::Click);
}

TEST(TtyModel, RepaintsCursorShapeAndTitle) {
  TerminalModel m(24, 80);
  EXPECT_FALSE(m.cursorLook().set);
  m.feed("\033]2;my title\007\033[6 q");  // steady bar
  EXPECT_EQ(m.title(), "my title");
  EXPECT_TRUE(m.cursorLook().set);
  EXPECT_EQ(m.cursorLook().shape, VTERM_PROP_CURSORSHAPE_BAR_LEFT);
  EXPECT_FALSE(m.cursorLook().blink);
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
  m.feed("\033[3 q");  // blinking underline
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
}

TEST(TtyModel, RepaintLeavesBlanksAlone) {
  TerminalModel m(24, 80);
  m.feed("hi\033[12;40Hthere");
  // Modes and two runs of text, not 24 rows of spaces.
  EXPECT_LT(repaint(m, Terminfo("xterm-256color"), 24, 80).size(), 200u);
}

TEST(TtyModel, RepaintsModes) {
  TerminalModel m(24, 80);
  m.feed("text\033[3;20r\033[?1h\033=\033[?2004h\033[?1002;1006h\033[?25l\033[?7l\033[5;7H");
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
  m.feed("\033[?6h\033[4;9Hin region\033[?1000h\033>");  // origin mode; cursor keys alone
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
  m.feed("\033[?1l\033=\033[?1003;1006l\033[?25h");  // keypad alone
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
}

TEST(TtyModel, RepaintsAlternateScreenAndThePrimaryBehindIt) {
  TerminalModel m(24, 80);
  m.feed("$ vim notes\r\n\033[32mprimary\033[0m line\r\n$ ");
  m.feed("before\033[?1049h\033[H\033[2Jalt \033[1mscreen\033[0m\033[10;5H");
  ASSERT_TRUE(m.modes().altScreen);
  ASSERT_TRUE(m.primaryBehindAlt());
  EXPECT_EQ(m.primaryBehindAlt()->cursorCol, 8);  // after "before", written in the same read
  EXPECT_EQ(text(m, 0), "alt screen");
  for (const char* term : kTerms) {
    Terminfo ti(term);
    SCOPED_TRACE(term);
    auto fresh = repainted(m, ti, 24, 80);
    expectSameScreen(m, *fresh, ti, 24, 80);
    EXPECT_TRUE(fresh->modes().altScreen);
    EXPECT_EQ(fresh->cursor().row, 9);
    // Leaving the alternate screen shows the same primary screen on both.
    TerminalModel& left = *fresh;
    left.feed("\033[?1049l");
    TerminalModel original(24, 80);
    original.feed("$ vim notes\r\n\033[32mprimary\033[0m line\r\n$ before");
    expectSameScreen(original, left, ti, 24, 80);
    EXPECT_EQ(left.cursor().col, 8);
  }
}

TEST(TtyModel, RepaintsIntoASmallerTerminalWhatFits) {
  TerminalModel m(30, 100);
  m.feed("top left\033[2;90Hcut at 80\033[28;1Hbelow 24\033[3;80H\xe6\xbc\xa2\033[20;95H");
  for (const char* term : kTerms) {
    Terminfo ti(term);
    SCOPED_TRACE(term);
    auto owned = repainted(m, ti, 24, 80);
    TerminalModel& fresh = *owned;
    expectSameScreen(m, fresh, ti, 24, 80);
    EXPECT_EQ(text(fresh, 0), "top left");
    EXPECT_EQ(text(fresh, 1), "");
    EXPECT_EQ(text(fresh, 2), "");  // the wide character at column 79 does not fit
    EXPECT_EQ(fresh.cursor().row, 19);
    EXPECT_EQ(fresh.cursor().col, 79);
  }
}

TEST(TtyModel, ResizedThenRepaintedMatchesExactly) {
  for (auto [rows, cols] : {std::pair{24, 80}, {40, 120}, {10, 30}}) {
    TerminalModel m(30, 100);
    m.feed(kStyled);
    m.feed("\033[2;28r\033[?2004h\033[25;3Hprompt$ ");
    m.resize(rows, cols);
    for (const char* term : kTerms) expectRepaintsExactly(m, term);
  }
}

TEST(TtyModel, AScrollRegionFollowsAResizeAsLibvtermsDoes) {
  // The tracker's region after a resize must be the one libvterm scrolls.
  TerminalModel m(30, 40);
  m.feed("\033[2;28rfixed top\033[5;1H");  // the cursor high: the resize drops no line
  m.resize(20, 40);
  ASSERT_EQ(text(m, 0), "fixed top");
  EXPECT_EQ(m.modes().scrollTop, 1);
  EXPECT_EQ(m.modes().scrollBottom, 19);  // clamped to the last row
  m.feed("\033[20;1Hlast\n\n\n");
  EXPECT_EQ(text(m, 0), "fixed top");  // outside the region: not scrolled
  EXPECT_EQ(text(m, 16), "last");
}

TEST(TtyModel, RepaintsAfterTheScreenScrolled) {
  TerminalModel m(10, 40);
  for (int i = 0; i < 30; ++i)
    m.feed("\033[3" + std::to_string(i % 8) + "mline " + std::to_string(i) + "\r\n");
  EXPECT_EQ(text(m, 0), "line 21");
  for (const char* term : kTerms) expectRepaintsExactly(m, term);
}

TEST(TtyModel, MapsColoursToWhatTheTerminalHas) {
  TerminalModel m(2, 10);
  Terminfo xterm("xterm-256color"), screen("screen");
  VTermColor c;
  vterm_color_indexed(&c, 200);
  EXPECT_EQ(colorParam(m, xterm, c), 200);
  vterm_color_indexed(&c, 9);
  EXPECT_EQ(colorParam(m, xterm, c), 9);
  EXPECT_EQ(colorParam(m, screen, c), 1);  // bright red: red
  vterm_color_rgb(&c, 255, 0, 0);
  EXPECT_EQ(colorParam(m, xterm, c), 196);  // the cube's pure red
  EXPECT_EQ(colorParam(m, screen, c), 1);
  vterm_color_rgb(&c, 20, 20, 20);
  EXPECT_EQ(colorParam(m, xterm, c), 234);  // a grey of the ramp (libvterm's: 11 apart)
  c.type = VTERM_COLOR_DEFAULT_FG;
  EXPECT_EQ(colorParam(m, xterm, c), -1);
}

TEST(TtyModel, SendsXtermModesOnlyToTerminalsThatSpeakThem) {
  TerminalModel m(24, 80);
  m.feed("hi\033[?1000;1006h\033[?2004h\033[?1004h\033[?1h");
  std::string vt100 = repaint(m, Terminfo("vt100"), 24, 80);
  for (const char* mode : {"1000", "1006", "2004", "1004"})
    EXPECT_EQ(vt100.find(std::string("\033[?") + mode), std::string::npos) << mode;
  EXPECT_NE(vt100.find("\033[?1h"), std::string::npos);  // DECCKM: vt100's smkx uses it
  std::string xterm = repaint(m, Terminfo("xterm-256color"), 24, 80);
  for (const char* mode : {"1000h", "1006h", "2004h", "1004h"})
    EXPECT_NE(xterm.find(std::string("\033[?") + mode), std::string::npos) << mode;
  // A terminal that can do nothing gets the text and no escape at all.
  std::string dumb = repaint(m, Terminfo("dumb"), 24, 80);
  EXPECT_EQ(dumb.find('\033'), std::string::npos);
  EXPECT_NE(dumb.find("hi"), std::string::npos);
}

TEST(TtyModel, ReleaseGivesTheTerminalBackToAShell) {
  const char* setup =
      "$ prompt\033[?1049h\033[3;10r\033[?1h\033=\033[?2004h\033[?1003;1006h"
      "\033[?25l\033[?7l\033[1;31mfull screen";
  for (const char* term : kTerms) {
    SCOPED_TRACE(term);
    Terminfo ti(term);
    TerminalModel m(24, 80);
    m.feed(setup);
    TerminalModel user(24, 80);  // the user's terminal, which saw the same bytes
    user.feed(setup);
    user.feed(release(m, ti));
    TerminalModes want;
    want.autowrap = ti.has("smam") || ti.str("smkx").find("\033[?1h") != std::string::npos;
    EXPECT_EQ(user.modes(), want);
    EXPECT_EQ(text(user, 0), "$ prompt");
    EXPECT_TRUE(user.pen() == Style{});
  }
}

TEST(TtyModel, UnknownTermIsAnError) {
  EXPECT_THROW(Terminfo("no-such-terminal-xyz"), Error);
}

TEST(TtyModel, DropsRepliesThatTheUsersTerminalGives) {
  // A cursor position query leaves the model as it was (the outer terminal
  // answers it; libvterm's answer is dropped, not queued).
  TerminalModel m(5, 20);
  m.feed("ab\033[6n\033[c");
  EXPECT_EQ(text(m, 0), "ab");
  EXPECT_EQ(m.cursor().col, 2);
}

}  // namespace
}  // namespace ckpt::tty

namespace ckpt::tty {
namespace {

TEST(TtyRestart, ReadsTheRestoreOptions) {
  RestartOptions o = parseRestartOptions(R"({"shell-job":"1","TERM":"tmux-256color","x":"y"})");
  EXPECT_TRUE(o.shellJob);
  EXPECT_EQ(o.term, "tmux-256color");
  o = parseRestartOptions("{}");
  EXPECT_FALSE(o.shellJob);
  EXPECT_EQ(o.term, "");
  EXPECT_FALSE(parseRestartOptions(R"({"shell-job":"0"})").shellJob);
}

TEST(TtyRestart, RedrawsTheModelAtTheNewTerminalsSize) {
  // vim-like: alternate screen, a scroll region, application keys; the new
  // terminal is smaller and of another type.
  for (const char* term : kTerms) {
    TerminalModel copy(30, 100);
    copy.feed(
        "$ vim\r\n\033[?1049h\033[?1h\033=\033[1;29r\033[H\033[2J~\r\n~\r\n\033[30;1H"
        "\033[7m-- VISUAL --\033[0m\033[2;1H\033[44mselected\033[0m");
    std::string bytes = redrawOnNewTerminal(copy, term, WindowSize{20, 70});
    EXPECT_EQ(copy.rows(), 20);
    EXPECT_EQ(copy.cols(), 70);
    TerminalModel fresh(20, 70);
    fresh.feed(bytes);
    SCOPED_TRACE(term);
    Terminfo ti(term);
    expectSameScreen(copy, fresh, ti, 20, 70);
    EXPECT_EQ(copy.modes(), fresh.modes());
    EXPECT_EQ(copy.cursor().row, fresh.cursor().row);
    EXPECT_EQ(copy.cursor().col, fresh.cursor().col);
  }
}

TEST(TtyRestart, AnUnknownTermChangesNothing) {
  TerminalModel m(10, 20);
  m.feed("kept");
  EXPECT_THROW(redrawOnNewTerminal(m, "no-such-terminal-xyz", WindowSize{5, 5}), Error);
  EXPECT_EQ(m.rows(), 10);
  EXPECT_EQ(text(m, 0), "kept");
}

}  // namespace
}  // namespace ckpt::tty
