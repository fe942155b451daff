// `ckpt restore DIR [--detach]`. In the foreground, ckpt stays the restored
// root's parent: it forwards the signals a user sends to it and exits with
// the root's exit status, as if it were the program itself.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "core/image/ImageStream.hpp"
#include "core/restore/Restorer.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/TempDir.hpp"
#include "tty/shelljob/UserTerminal.hpp"
#include "x11proxy/proxy/Upstream.hpp"

namespace ckpt::cli {
namespace {

constexpr int kForwarded[] = {SIGINT,  SIGTERM, SIGHUP,   SIGQUIT, SIGUSR1,
                              SIGUSR2, SIGCONT, SIGWINCH, SIGALRM};

// `terminal`: --shell-job, the tree is this terminal's foreground job. When
// it stops (Ctrl-Z), ckpt takes the terminal back and stops too, so the
// shell sees its job stop; `fg` continues ckpt, which hands the terminal
// back and continues the tree.
int waitForeground(pid_t root, tty::UserTerminal* terminal) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(root, &status, WNOHANG | (terminal ? WUNTRACED : 0));
    if (r == root) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      if (WIFSTOPPED(status) && terminal) {
        pid_t pgid = getpgid(root);
        terminal->reclaim();
        kill(getpid(), SIGSTOP);  // returns once the shell continues us
        terminal->lend(pgid);
        kill(-pgid, SIGCONT);
        continue;
      }
    }
    siginfo_t info;
    int sig = sigwaitinfo(&set, &info);
    if (sig > 0 && sig != SIGCHLD) kill(root, sig);
  }
}

// Waits for the page server of restore --lazy to report that every page is
// in; the time since the restore began, or -1 if the server failed (its
// watchdog then killed the tree).
double lazyPagesMs(RestoreSummary& s) {
  std::string line;
  char buf[128];
  for (;;) {
    ssize_t n = read(s.lazy.report.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    line.append(buf, size_t(n));
  }
  s.lazy.report.reset();
  unsigned long long doneNs = 0, bytes = 0;
  if (std::sscanf(line.c_str(), "%llu %llu", &doneNs, &bytes) != 2) return -1;
  auto started =
      std::chrono::duration_cast<std::chrono::nanoseconds>(s.started.time_since_epoch()).count();
  return double(int64_t(doneNs) - int64_t(started)) / 1e6;
}

}  // namespace

int restoreCommand(const RestoreOptions& opts) {
  // Block the forwarded signals before the tree exists, so none is lost.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  for (int s : kForwarded) sigaddset(&set, s);
  if (!opts.detach) sigprocmask(SIG_BLOCK, &set, nullptr);
  RestoreRequest req{opts.dir,
                     opts.hookOptions,
                     std::chrono::milliseconds(std::llround(opts.hookTimeout * 1000)),
                     opts.shellJob,
                     opts.lazy,
                     opts.detach};
  // X clients of `ckpt x11 run` reconnect to this display, with the
  // credentials this command would use (--hook-option display=... wins).
  std::string display = opts.display;
  if (display.empty())
    if (const char* d = getenv("DISPLAY")) display = d;
  if (!display.empty()) {
    req.hookOptions.emplace("display", display);
    req.hookOptions.emplace("xauthority", x11::defaultXauthority());
  }
  // `restore -`: the whole stream is kept in a private directory and checked
  // there like any image before anything starts (its manifest comes last, so
  // nothing can be checked earlier); gone once the tree runs.
  std::optional<TempDir> streamed;
  if (opts.dir == "-") {
    if (opts.shellJob)
      throw Error(
          "restore - --shell-job: stdin carries the image, so it cannot be the program's "
          "terminal; save the stream to a directory first (ckpt restore DIR --shell-job)");
    if (isatty(STDIN_FILENO))
      throw Error(
          "restore -: stdin is a terminal; pipe an image stream into it (ckpt dump PID -o - | "
          "ckpt restore -)");
    streamed.emplace("ckpt-restore-");
    req.dir = streamed->path() + "/image";
    image::readImageStream(STDIN_FILENO, req.dir, "stdin");
  }
  std::optional<tty::UserTerminal> terminal;
  if (opts.shellJob) {
    terminal.emplace();
    // A program under `ckpt run` repaints itself for this terminal.
    req.hookOptions.emplace("shell-job", "1");
    if (const char* term = getenv("TERM")) req.hookOptions.emplace("TERM", term);
  }
  RestoreSummary s = restoreTree(req);
  streamed.reset();
  log::info("restored {} processes (root {}): verify {:.1f} ms, restore {:.1f} ms", s.processes,
            s.root, s.verifyMs, s.restoreMs);
  // A hook that failed leaves the tree running (it may recover, the user
  // decides); the failure shows in the exit status (core/hooks/PROTOCOL.md).
  for (const auto& e : s.hookErrors) std::fprintf(stderr, "ckpt: restore: %s\n", e.c_str());
  const int hookStatus = s.hookErrors.empty() ? 0 : 1;
  if (opts.detach && opts.json) {
    // running_ms: until the tree runs again; pages_ms: until all of its
    // memory is in (the same unless --lazy; -1 if the page server failed).
    const double runningMs = s.verifyMs + s.restoreMs;
    nlohmann::json j{
        {"root", s.root},          {"processes", s.processes},
        {"verify_ms", s.verifyMs}, {"restore_ms", s.restoreMs},
        {"running_ms", runningMs}, {"pages_ms", s.lazy.report ? lazyPagesMs(s) : runningMs},
        {"lazy", opts.lazy},       {"hook_errors", s.hookErrors}};
    std::printf("%s\n", j.dump(2).c_str());
    std::fflush(stdout);
    return hookStatus;
  }
  if (opts.detach) {
    std::printf("%d\n", s.root);
    std::fflush(stdout);
    return hookStatus;
  }
  int status = waitForeground(s.root, terminal ? &*terminal : nullptr);
  // As the eager restore: ckpt ends once the tree has and its memory is in.
  if (s.lazy.report) {
    double pagesMs = lazyPagesMs(s);
    if (pagesMs >= 0) log::info("restore --lazy: every page in after {:.1f} ms", pagesMs);
  }
  for (pid_t helper : {s.lazy.server, s.lazy.watchdog})
    if (helper > 0) waitpid(helper, nullptr, 0);
  return status != 0 ? status : hookStatus;
}

}  // namespace ckpt::cli
