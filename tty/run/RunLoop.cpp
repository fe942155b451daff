// Exit rule: the command has exited AND the master reads EIO (every slave fd
// closed). Output written by the last holders is thus never cut, and a
// daemon that keeps the terminal (a background job still printing) keeps
// ckpt run alive; one that lets it go (screen's server once its front end
// detached) does not: it lives on outside, reparented as any orphan.
#include "tty/run/RunLoop.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "tty/model/Repaint.hpp"
#include "tty/model/Terminfo.hpp"
#include "tty/run/Restart.hpp"

namespace ckpt::tty {
namespace {

constexpr size_t kBufferSize = 64 * 1024;
constexpr size_t kMaxPendingInput = 1024 * 1024;  // stop reading the user until the program reads
// What pre-dump reads at most: what a program writes after that stays in
// the pty, whose bytes in flight the dump keeps.
constexpr size_t kMaxPreDumpDrain = 16 * 1024 * 1024;
constexpr int kForwarded[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT};

}  // namespace

sigset_t runLoopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGWINCH);
  for (int s : kForwarded) sigaddset(&set, s);
  return set;
}

RunLoop::RunLoop(OuterTerminal& outer, SpawnedPty pty, std::string term)
    : outer_(outer),
      master_(std::move(pty.master)),
      child_(pty.pid),
      term_(std::move(term)),
      size_(outer.size()),
      model_(size_.rows, size_.cols),
      hook_(getpid(), *this),
      buffer_(kBufferSize) {
  sigset_t set = runLoopSignals();
  signals_.reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!signals_) throwErrno("signalfd");
}

RunLoop::~RunLoop() = default;

int RunLoop::run() {
  // The program may have exited before the first SIGCHLD could be seen.
  reapChildren();
  while (!(childExited_ && !masterOpen_)) {
    pollfd fds[4];
    int n = 0;
    const int signalsAt = n;
    fds[n++] = {signals_.get(), POLLIN, 0};
    const int hookAt = n;
    fds[n++] = {hook_.fd(), POLLIN, 0};
    int masterAt = -1, outerAt = -1;
    if (masterOpen_) {
      masterAt = n;
      fds[n++] = {master_.get(), short(POLLIN | (toMaster_.empty() ? 0 : POLLOUT)), 0};
    }
    if (outerOpen_ && masterOpen_ && toMaster_.size() < kMaxPendingInput) {
      outerAt = n;
      fds[n++] = {outer_.in(), POLLIN, 0};
    }
    if (poll(fds, nfds_t(n), -1) < 0) {
      if (errno == EINTR) continue;
      throwErrno("poll");
    }
    // Signals first: a window size change the user made before typing
    // reaches the program before what was typed.
    if (fds[signalsAt].revents & POLLIN) handleSignals();
    // One buffer of output at a time, so that a program that never stops
    // writing still gets the user's input (Ctrl-C) and signals.
    if (masterAt >= 0 && fds[masterAt].revents & (POLLIN | POLLHUP | POLLERR))
      readMaster(kBufferSize);
    if (masterAt >= 0 && masterOpen_ && fds[masterAt].revents & POLLOUT) writeMaster();
    if (outerAt >= 0 && fds[outerAt].revents & (POLLIN | POLLHUP | POLLERR)) readOuter();
    if (fds[hookAt].revents & POLLIN) hook_.dispatch();
  }
  return status_;
}

void RunLoop::readMaster(size_t atMost) {
  size_t taken = 0;
  while (taken < atMost) {
    ssize_t n = read(master_.get(), buffer_.data(), buffer_.size());
    if (n > 0) {
      std::string_view bytes(buffer_.data(), size_t(n));
      model_.feed(bytes);
      outer_.writeAll(bytes);  // a user's terminal that is gone takes nothing; the model still does
      taken += size_t(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    masterOpen_ = false;  // EIO: no process holds the slave any more
    toMaster_.clear();
    return;
  }
}

void RunLoop::writeMaster() {
  while (!toMaster_.empty()) {
    ssize_t n = write(master_.get(), toMaster_.data(), toMaster_.size());
    if (n > 0) {
      toMaster_.erase(0, size_t(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return;  // EAGAIN: the program reads it later; EIO: readMaster sees the end
    }
  }
}

void RunLoop::readOuter() {
  ssize_t n;
  do n = read(outer_.in(), buffer_.data(), buffer_.size());
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    toMaster_.append(buffer_.data(), size_t(n));
    writeMaster();
    return;
  }
  if (n < 0 && errno == EAGAIN) return;
  outerOpen_ = false;
  // End of input that is no terminal (a pipe, /dev/null): a program reading
  // lines gets its end of file, as it would without ckpt run.
  termios t{};
  if (!outer_.isTerminal() && tcgetattr(master_.get(), &t) == 0 && (t.c_lflag & ICANON)) {
    toMaster_ += char(t.c_cc[VEOF]);
    writeMaster();
  }
}

void RunLoop::handleSignals() {
  signalfd_siginfo info;
  while (read(signals_.get(), &info, sizeof info) == sizeof info) {
    const int sig = int(info.ssi_signo);
    if (sig == SIGCHLD) {
      reapChildren();
    } else if (sig == SIGWINCH) {
      resizeTo(outer_.size());
    } else if (!childExited_) {
      // A hang-up reaches the program's foreground job too, as a terminal's would.
      if (sig == SIGHUP && masterOpen_) {
        pid_t fg = tcgetpgrp(master_.get());
        if (fg > 0) kill(-fg, sig);
      }
      kill(child_, sig);
    }
  }
}

void RunLoop::reapChildren() {
  // A subreaper reaps what it inherits too (daemons of the command).
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    if (pid != child_) continue;
    childExited_ = true;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
}

void RunLoop::resizeTo(WindowSize size) {
  if (size == size_) return;
  size_ = size;
  model_.resize(size.rows, size.cols);
  if (masterOpen_) setPtySize(master_.get(), size);
}

std::vector<int> RunLoop::onPreDump(bool kill) {
  // Quiesce: the model takes in all the program has written so far and the
  // program gets the user's input that was waiting.
  if (masterOpen_) {
    readMaster(kMaxPreDumpDrain);
    writeMaster();
  }
  // Killed after the dump: leave the user a terminal a shell can use (the
  // program cannot reset it any more), in the modes it had.
  if (kill && outer_.isRaw()) {
    released_ = true;
    withTerminfo([&](const Terminfo& ti) { outer_.writeAll(release(model_, ti)); });
    outer_.restoreUser();
  }
  return OuterTerminal::terminalFds();
}

void RunLoop::onResumed(bool) {
  outer_.enterRaw();
  // The dump failed after all: the program's screen and modes come back.
  if (std::exchange(released_, false))
    withTerminfo([&](const Terminfo& ti) {
      outer_.writeAll(repaint(model_, ti, model_.rows(), model_.cols()));
    });
}

void RunLoop::withTerminfo(const std::function<void(const Terminfo&)>& use) {
  try {
    Terminfo ti(term_);
    use(ti);
  } catch (const Error& e) {
    log::debug("ckpt run: {}", e.what());  // an unknown TERM: the screen stays as it is
  }
}

void RunLoop::onRestarted(const char* optionsJson) {
  RestartOptions o = parseRestartOptions(optionsJson);
  if (!o.shellJob) {
    // No terminal of the user's was given to the tree: nothing to paint into.
    log::warn("ckpt run {}: restored without --shell-job; the program runs without a terminal",
              getpid());
    return;
  }
  outer_.adoptNewTerminal();
  outer_.enterRaw();
  const WindowSize size = outer_.size();
  // A TERM this machine has no entry for: paint as the terminal ckpt run
  // started in (most are xterm-like) and still report it.
  std::string failure;
  std::string bytes;
  if (!o.term.empty() && o.term != term_) {
    try {
      bytes = redrawOnNewTerminal(model_, o.term, size);
      term_ = o.term;
    } catch (const Error& e) {
      failure = std::string(e.what()) + "; painted as " + term_;
    }
  }
  if (bytes.empty()) bytes = redrawOnNewTerminal(model_, term_, size);
  size_ = size;
  outer_.writeAll(bytes);
  if (masterOpen_) setPtySize(master_.get(), size);
  if (!failure.empty()) throw Error(failure);
}

}  // namespace ckpt::tty
