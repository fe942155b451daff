// The terminal modes a repaint must put back that libvterm keeps to itself:
// what a program set with DECSET/DECRST, DECSTBM and DECKPAM/DECKPNM.
#pragma once

namespace ckpt::tty {

enum class MouseTracking { Off, X10, Click, Drag, Motion };  // ?9 ?1000 ?1002 ?1003
enum class MouseEncoding { Default, Utf8, Sgr, Urxvt };      // ?1005 ?1006 ?1015

struct TerminalModes {
  // Scroll region (DECSTBM), 0-based inclusive rows; bottom < 0: the whole screen.
  int scrollTop = 0;
  int scrollBottom = -1;
  bool cursorKeysApp = false;   // DECCKM (?1)
  bool keypadApp = false;       // DECKPAM / DECKPNM (ESC = / ESC >)
  bool originMode = false;      // DECOM (?6)
  bool autowrap = true;         // DECAWM (?7)
  bool cursorVisible = true;    // DECTCEM (?25)
  bool altScreen = false;       // ?47 ?1047 ?1049
  bool bracketedPaste = false;  // ?2004
  bool focusEvents = false;     // ?1004
  MouseTracking mouse = MouseTracking::Off;
  MouseEncoding mouseEncoding = MouseEncoding::Default;

  bool hasScrollRegion(int rows) const {
    return scrollBottom >= 0 && (scrollTop > 0 || scrollBottom < rows - 1);
  }
  bool operator==(const TerminalModes&) const = default;
};

}  // namespace ckpt::tty
