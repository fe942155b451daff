// `ckpt run [--pidfile F] [--] CMD [ARGS...]`: runs CMD on a pseudo-terminal
// of its own behind a terminal model, as the root of a tree to dump (a child
// subreaper, so daemons of CMD stay in the tree). Exits with CMD's status.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "cli/Commands.hpp"
#include "core/util/Error.hpp"
#include "tty/run/OuterTerminal.hpp"
#include "tty/run/PtySpawn.hpp"
#include "tty/run/RunLoop.hpp"

namespace ckpt::cli {
namespace {

// The pid file names this process while it runs and goes with it.
class PidFile {
 public:
  explicit PidFile(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    std::ofstream f(path_, std::ios::trunc);
    f << getpid() << "\n";
    if (!f.flush()) throw Error("cannot write the pid file " + path_);
  }
  ~PidFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  PidFile(const PidFile&) = delete;
  PidFile& operator=(const PidFile&) = delete;

 private:
  std::string path_;
};

}  // namespace

int runCommand(const RunOptions& opts) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throwErrno("PR_SET_CHILD_SUBREAPER");
  // Output to a reader that went away (`ckpt run cmd | head`) is dropped,
  // not fatal: the program and the model go on. CMD gets SIGPIPE back at
  // its default.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals = tty::runLoopSignals();
  sigprocmask(SIG_BLOCK, &signals, nullptr);
  PidFile pidFile(opts.pidfile);
  tty::OuterTerminal outer;
  const char* term = std::getenv("TERM");
  tty::SpawnedPty pty = tty::spawnOnPty(opts.command, outer.size(), [&] {
    std::optional<termios> modes;
    termios t{};
    if (outer.isTerminal() && tcgetattr(outer.in(), &t) == 0) modes = t;
    return modes;
  }());
  tty::RunLoop loop(outer, std::move(pty), term && *term ? term : "xterm-256color");
  outer.enterRaw();
  return loop.run();
}

}  // namespace ckpt::cli
