// Calls that change a terminal's foreground group or modes stop a caller
// outside the foreground with SIGTTOU; ckpt makes them on purpose, with
// SIGTTOU blocked for the scope (the kernel then lets them through).
#pragma once

#include <signal.h>

namespace ckpt::tty {

struct NoTtou {
  sigset_t old;
  NoTtou() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGTTOU);
    pthread_sigmask(SIG_BLOCK, &s, &old);
  }
  ~NoTtou() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  NoTtou(const NoTtou&) = delete;
  NoTtou& operator=(const NoTtou&) = delete;
};

}  // namespace ckpt::tty
