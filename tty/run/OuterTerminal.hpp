// The user's terminal that `ckpt run` sits in (its own fds 0 and 1): its
// window size, and raw mode while ckpt run copies bytes, with the user's
// modes put back on every path.
#pragma once

#include <termios.h>

#include <optional>
#include <string>
#include <vector>

namespace ckpt::tty {

struct WindowSize {
  int rows = 24, cols = 80;
  bool operator==(const WindowSize&) const = default;
};

class OuterTerminal {
 public:
  OuterTerminal(int in = 0, int out = 1);
  ~OuterTerminal();  // puts the user's modes back
  OuterTerminal(const OuterTerminal&) = delete;
  OuterTerminal& operator=(const OuterTerminal&) = delete;

  int in() const { return in_; }
  int out() const { return out_; }
  bool isTerminal() const { return terminalFd_ >= 0; }
  // The window size of the terminal; when fd 0 and 1 are no terminal (a
  // pipe, a test), LINES and COLUMNS from the environment, else 24x80.
  WindowSize size() const;
  // The user's modes, taken when raw mode is entered (empty: no terminal).
  const std::optional<termios>& userModes() const { return userModes_; }

  void enterRaw();     // no-op when not a terminal
  void restoreUser();  // the modes taken by enterRaw; no-op when not raw
  // After a restore onto another terminal: its modes (the saved ones, which
  // ckpt restore applied) become the user's modes when they are cooked
  // ones; raw ones mean the dump happened in raw mode, and the modes taken
  // at start are kept.
  void adoptNewTerminal();
  bool isRaw() const { return raw_; }

  // Writes all of `data`; false when the terminal is gone (EIO, EPIPE).
  bool writeAll(std::string_view data) const;
  // The fds 0, 1 and 2 that are terminals: what a dump leaves out.
  static std::vector<int> terminalFds();

 private:
  int in_, out_;
  int terminalFd_ = -1;  // in_ or out_, whichever is a terminal
  std::optional<termios> userModes_;
  bool raw_ = false;
};

}  // namespace ckpt::tty
