#include "tty/shelljob/UserTerminal.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "core/util/Error.hpp"
#include "tty/shelljob/NoTtou.hpp"

namespace ckpt::tty {
UserTerminal::UserTerminal() {
  for (int fd : {0, 1, 2})
    if (isatty(fd)) {
      fd_ = UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 3));
      break;
    }
  if (!fd_) return;
  try {
    modes_ = getTermios(fd_.get());
  } catch (const Error&) {
  }
}

void UserTerminal::reclaim() {
  if (!fd_) return;
  NoTtou noTtou;
  if (modes_) {
    try {
      treeModes_ = getTermios(fd_.get());
      setTermios(fd_.get(), *modes_);
    } catch (const Error&) {
    }
  }
  tcsetpgrp(fd_.get(), getpgrp());
}

void UserTerminal::lend(pid_t pgid) {
  if (!fd_) return;
  NoTtou noTtou;
  if (treeModes_) {
    try {
      setTermios(fd_.get(), *treeModes_);
    } catch (const Error&) {
    }
  }
  tcsetpgrp(fd_.get(), pgid);
}

UserTerminal::~UserTerminal() {
  reclaim();
}

}  // namespace ckpt::tty
