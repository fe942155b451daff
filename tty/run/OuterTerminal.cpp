// The outer terminal is never made non-blocking: its file description is
// shared with the user's shell. Writes to it block, which is the right
// back-pressure: output goes at the speed the user's terminal takes it.
#include "tty/run/OuterTerminal.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include "core/util/Error.hpp"

namespace ckpt::tty {
namespace {

int envNumber(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return -1;
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  return end != v && *end == 0 && n > 0 && n < 10000 ? int(n) : -1;
}

}  // namespace

OuterTerminal::OuterTerminal(int in, int out) : in_(in), out_(out) {
  if (isatty(in_))
    terminalFd_ = in_;
  else if (isatty(out_))
    terminalFd_ = out_;
}

OuterTerminal::~OuterTerminal() {
  restoreUser();
}

WindowSize OuterTerminal::size() const {
  winsize ws{};
  if (terminalFd_ >= 0 && ioctl(terminalFd_, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
      ws.ws_col > 0)
    return {ws.ws_row, ws.ws_col};
  WindowSize s;
  if (int r = envNumber("LINES"); r > 0) s.rows = r;
  if (int c = envNumber("COLUMNS"); c > 0) s.cols = c;
  return s;
}

void OuterTerminal::enterRaw() {
  if (terminalFd_ < 0 || raw_) return;
  termios t{};
  if (tcgetattr(terminalFd_, &t) != 0) throwErrno("tcgetattr of the terminal");
  if (!userModes_) userModes_ = t;
  cfmakeraw(&t);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(terminalFd_, TCSADRAIN, &t) != 0) throwErrno("tcsetattr of the terminal");
  raw_ = true;
}

void OuterTerminal::restoreUser() {
  if (!raw_ || !userModes_) return;
  tcsetattr(terminalFd_, TCSADRAIN, &*userModes_);
  raw_ = false;
}

void OuterTerminal::adoptNewTerminal() {
  terminalFd_ = isatty(in_) ? in_ : isatty(out_) ? out_ : -1;
  raw_ = false;
  termios t{};
  if (terminalFd_ >= 0 && tcgetattr(terminalFd_, &t) == 0 && (t.c_lflag & ICANON)) userModes_ = t;
}

bool OuterTerminal::writeAll(std::string_view data) const {
  while (!data.empty()) {
    ssize_t n = ::write(out_, data.data(), data.size());
    if (n > 0) {
      data.remove_prefix(size_t(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {  // someone else made it non-blocking
      pollfd p{out_, POLLOUT, 0};
      poll(&p, 1, -1);
    } else {
      return false;
    }
  }
  return true;
}

std::vector<int> OuterTerminal::terminalFds() {
  std::vector<int> fds;
  for (int fd = 0; fd <= 2; ++fd)
    if (isatty(fd)) fds.push_back(fd);
  return fds;
}

}  // namespace ckpt::tty
