#include "tty/shelljob/WinchReplay.hpp"

#include <sys/ioctl.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "core/util/Log.hpp"

namespace ckpt::tty {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Bytes the tree has written so far (/proc/PID/io wchar, summed): a redraw
// shows up here whether it goes to the terminal or through a pty proxy.
uint64_t bytesWritten(const std::vector<pid_t>& tree) {
  uint64_t total = 0;
  for (pid_t pid : tree) {
    std::ifstream io("/proc/" + std::to_string(pid) + "/io");
    std::string key;
    uint64_t value = 0;
    while (io >> key >> value)
      if (key == "wchar:") total += value;
  }
  return total;
}

// Waits until the tree has started writing after `before` and then stayed
// quiet for a moment: the redraw is over. A program that ignores SIGWINCH
// never starts; that wait is bounded.
void awaitRedraw(const std::vector<pid_t>& tree, uint64_t before) {
  constexpr auto kStartWithin = milliseconds(1500), kQuiet = milliseconds(60),
                 kAtMost = milliseconds(3000), kPoll = milliseconds(5);
  auto start = Clock::now(), lastChange = start;
  uint64_t last = before;
  bool started = false;
  for (;;) {
    std::this_thread::sleep_for(kPoll);
    auto now = Clock::now();
    uint64_t cur = bytesWritten(tree);
    if (cur != last) {
      started = true;
      last = cur;
      lastChange = now;
    }
    if (started && now - lastChange >= kQuiet) return;
    if (!started && now - start >= kStartWithin) return;
    if (now - start >= kAtMost) return;
  }
}

}  // namespace

void replayWinch(int terminal, const std::vector<pid_t>& tree) {
  winsize real{};
  if (ioctl(terminal, TIOCGWINSZ, &real) != 0 || real.ws_col == 0 || real.ws_row == 0) {
    log::info("the terminal has no size: no SIGWINCH replay");
    return;
  }
  winsize other = real;
  other.ws_col = real.ws_col > 2 ? real.ws_col - 1 : real.ws_col + 1;
  uint64_t before = bytesWritten(tree);
  if (ioctl(terminal, TIOCSWINSZ, &other) != 0) {
    log::warn("SIGWINCH replay: cannot resize the terminal: {}", strerror(errno));
    return;
  }
  awaitRedraw(tree, before);
  before = bytesWritten(tree);
  ioctl(terminal, TIOCSWINSZ, &real);
  awaitRedraw(tree, before);
}

}  // namespace ckpt::tty
