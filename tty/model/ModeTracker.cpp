// Mode tracking from a parser-only libvterm: it splits the byte stream into
// escape sequences exactly as the screen model's parser does, and hands each
// CSI and ESC sequence to us. Only the sequences that change a mode matter.
#include "tty/model/ModeTracker.hpp"

#include <vterm.h>

#include <algorithm>
#include <new>

namespace ckpt::tty {
namespace {

ModeTracker& self(void* user) {
  return *static_cast<ModeTracker*>(user);
}

int onCsi(const char* leader, const long args[], int argc, const char* intermed, char command,
          void* user) {
  self(user).onCsi(leader, args, argc, intermed, command);
  return 1;
}

int onEscape(const char* bytes, size_t len, void* user) {
  self(user).onEscape({bytes, len});
  return 1;
}

int ignoreText(const char*, size_t len, void*) {
  return static_cast<int>(len);
}
int ignoreControl(unsigned char, void*) {
  return 1;
}
int ignoreString(const char*, size_t, void*) {
  return 1;
}
int ignoreResize(int, int, void*) {
  return 1;
}

const VTermParserCallbacks kCallbacks = {
    ignoreText, ignoreControl, onEscape, onCsi, ignoreString, ignoreString, ignoreResize,
};

}  // namespace

ModeTracker::ModeTracker(int rows, int cols) : vt_(vterm_new(rows, cols)), rows_(rows) {
  if (!vt_) throw std::bad_alloc();
  vterm_set_utf8(vt_, 1);  // C1 bytes are UTF-8 continuation bytes, as in the screen model
  vterm_parser_set_callbacks(vt_, &kCallbacks, this);
}

ModeTracker::~ModeTracker() {
  vterm_free(vt_);
}

bool ModeTracker::feed(std::string_view bytes) {
  enteredAlt_ = false;
  vterm_input_write(vt_, bytes.data(), bytes.size());
  return enteredAlt_;
}

void ModeTracker::resize(int rows, int cols) {
  rows_ = rows;
  vterm_set_size(vt_, rows, cols);
  // As libvterm does: a region that no longer fits ends at the last row.
  if (modes_.scrollBottom >= rows) modes_.scrollBottom = rows - 1;
  if (modes_.scrollTop >= modes_.scrollBottom || !modes_.hasScrollRegion(rows))
    modes_.scrollTop = 0, modes_.scrollBottom = -1;
}

void ModeTracker::onCsi(const char* leader, const long args[], int argc, const char* intermed,
                        char command) {
  const bool hasLeader = leader && leader[0];
  const bool hasIntermed = intermed && intermed[0];
  if (hasLeader && leader[0] == '?' && !leader[1] && !hasIntermed &&
      (command == 'h' || command == 'l')) {
    for (int i = 0; i < argc; ++i)
      if (!CSI_ARG_IS_MISSING(args[i])) setDecMode(CSI_ARG(args[i]), command == 'h');
    return;
  }
  if (!hasLeader && hasIntermed && intermed[0] == '!' && !intermed[1] && command == 'p') {
    softReset();  // DECSTR
    return;
  }
  if (!hasLeader && !hasIntermed && command == 'r') {  // DECSTBM
    long top = argc > 0 ? CSI_ARG_OR(args[0], 1) : 1;
    long bottom = argc > 1 ? CSI_ARG_OR(args[1], rows_) : rows_;
    top = std::max(1L, top);
    bottom = std::min<long>(bottom, rows_);
    if (bottom <= top) {
      if (argc > 0 && !CSI_ARG_IS_MISSING(args[0])) return;  // invalid: ignored
      top = 1, bottom = rows_;
    }
    modes_.scrollTop = int(top - 1);
    modes_.scrollBottom = bottom == rows_ && top == 1 ? -1 : int(bottom - 1);
  }
}

void ModeTracker::onEscape(std::string_view bytes) {
  if (bytes == "=") modes_.keypadApp = true;
  if (bytes == ">") modes_.keypadApp = false;
  if (bytes == "c") {  // RIS; libvterm stays on the alternate screen, and so do we
    const bool alt = modes_.altScreen;
    modes_ = TerminalModes{};
    modes_.altScreen = alt;
  }
}

void ModeTracker::setDecMode(long mode, bool on) {
  switch (mode) {
    case 1:
      modes_.cursorKeysApp = on;
      break;
    case 6:
      modes_.originMode = on;
      break;
    case 7:
      modes_.autowrap = on;
      break;
    case 25:
      modes_.cursorVisible = on;
      break;
    case 1047:
    case 1049:
      if (on && !modes_.altScreen) enteredAlt_ = true;
      modes_.altScreen = on;
      break;
    case 2004:
      modes_.bracketedPaste = on;
      break;
    case 1004:
      modes_.focusEvents = on;
      break;
    case 9:
      modes_.mouse = on ? MouseTracking::X10 : MouseTracking::Off;
      break;
    case 1000:
      modes_.mouse = on ? MouseTracking::Click : MouseTracking::Off;
      break;
    case 1002:
      modes_.mouse = on ? MouseTracking::Drag : MouseTracking::Off;
      break;
    case 1003:
      modes_.mouse = on ? MouseTracking::Motion : MouseTracking::Off;
      break;
    case 1005:
      modes_.mouseEncoding = on ? MouseEncoding::Utf8 : MouseEncoding::Default;
      break;
    case 1006:
      modes_.mouseEncoding = on ? MouseEncoding::Sgr : MouseEncoding::Default;
      break;
    case 1015:
      modes_.mouseEncoding = on ? MouseEncoding::Urxvt : MouseEncoding::Default;
      break;
    default:
      break;
  }
}

void ModeTracker::softReset() {
  // What DECSTR resets in libvterm's state (vterm_state_reset, soft).
  modes_.cursorKeysApp = false;
  modes_.keypadApp = false;
  modes_.originMode = false;
  modes_.autowrap = true;
  modes_.cursorVisible = true;
  modes_.scrollTop = 0;
  modes_.scrollBottom = -1;
}

}  // namespace ckpt::tty
