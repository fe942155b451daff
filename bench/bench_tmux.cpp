// A tmux session as users save it: a server on a private socket with 5
// windows, each a shell that has printed something. Medians of N runs of
// `ckpt dump --json` leaving it running (total and freeze), `ckpt dump
// --kill --json` (total and freeze), and `ckpt restore --detach --json`
// (restore_ms: until the tree is back; running_ms: until it runs), next to
// the 100 ms target for each. Every restored server is checked (its 5
// windows answer) before it is ended.
//
//   bench_tmux [--runs N] [--dir DIR] [--dump-arg ARG]...
//   (default 5 runs; --dump-arg: passed to every dump, e.g. --dump-arg --no-pre-copy)
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/util/Error.hpp"

namespace fs = std::filesystem;
using ckpt::Error;
using ckpt::throwErrno;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kWindows = 5;
constexpr double kTargetMs = 100;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string findInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    fs::path p = fs::path(d) / name;
    if (access(p.c_str(), X_OK) == 0) return p.string();
  }
  return {};
}

struct Run {
  int exitCode = -1;
  std::string out;
};

// Runs argv[0] with its stdout captured (stderr passed through).
Run run(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throwErrno("pipe2");
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) throwErrno("fork");
  if (pid == 0) {
    dup2(fds[1], 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  Run r;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.out.append(buf, size_t(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

Run mustRun(const std::vector<std::string>& args) {
  Run r = run(args);
  if (r.exitCode != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += (cmd.empty() ? "" : " ") + a;
    throw Error(fmt::format("`{}` failed (exit {})", cmd, r.exitCode));
  }
  return r;
}

bool pidExists(pid_t pid) {
  return kill(pid, 0) == 0 || errno == EPERM;
}

// We are the subreaper: the server (which daemonized) and, once it is
// gone, its shells are our children. Reaps them until none of `pids` is
// left, zombie or not.
void reapUntilGone(const std::vector<pid_t>& pids) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (std::none_of(pids.begin(), pids.end(), pidExists)) return;
    if (Clock::now() > deadline) throw Error("the tmux tree did not go away within 10 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::vector<pid_t> treeOf(pid_t root) {
  std::vector<pid_t> out{root};
  for (size_t i = 0; i < out.size(); ++i) {
    std::ifstream in(fmt::format("/proc/{}/task/{}/children", out[i], out[i]));
    for (pid_t c; in >> c;) out.push_back(c);
  }
  return out;
}

class Session {
 public:
  Session(std::string tmux, fs::path dir)
      : tmux_(std::move(tmux)), sock_((dir / "sock").string()) {}
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  // A run that failed half-way leaves no server behind.
  ~Session() {
    if (alive_) run({tmux_, "-S", sock_, "kill-server"});
  }
  void ended() { alive_ = false; }

  Run cmd(std::vector<std::string> args) const {
    args.insert(args.begin(), {tmux_, "-S", sock_});
    return run(args);
  }
  Run mustCmd(std::vector<std::string> args) const {
    args.insert(args.begin(), {tmux_, "-S", sock_});
    return mustRun(args);
  }

  // 5 windows, each a shell that printed a screenful; returns the server's pid.
  pid_t start() {
    alive_ = true;
    mustCmd({"-f", "/dev/null", "new-session", "-d", "-s", "b", "-x", "120", "-y", "30",
             "bash --norc"});
    for (int i = 1; i < kWindows; ++i) mustCmd({"new-window", "-d", "-t", "b:", "bash --norc"});
    for (int i = 0; i < kWindows; ++i)
      mustCmd(
          {"send-keys", "-t", fmt::format("b:{}", i), fmt::format("seq 1 {}", 100 + i), "Enter"});
    // The shells are ready when the screens show their output.
    auto deadline = Clock::now() + std::chrono::seconds(10);
    for (int i = 0; i < kWindows; ++i)
      while (mustCmd({"capture-pane", "-p", "-t", fmt::format("b:{}", i)})
                 .out.find(std::to_string(100 + i)) == std::string::npos) {
        if (Clock::now() > deadline)
          throw Error(fmt::format("window {} never showed its output", i));
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    return pid_t(std::stol(mustCmd({"display-message", "-p", "#{pid}"}).out));
  }

  // The restored server answers with its 5 windows, their screens intact.
  void check() const {
    Run r = mustCmd({"list-windows", "-t", "b"});
    int n = int(std::count(r.out.begin(), r.out.end(), '\n'));
    if (n != kWindows) throw Error(fmt::format("the restored server has {} windows", n));
    if (mustCmd({"capture-pane", "-p", "-t", "b:4"}).out.find("104") == std::string::npos)
      throw Error("the restored window 4 lost its screen");
  }

 private:
  std::string tmux_;
  std::string sock_;
  bool alive_ = false;
};

nlohmann::json ckptJson(const std::string& ckpt, std::vector<std::string> args) {
  args.insert(args.begin(), ckpt);
  return nlohmann::json::parse(mustRun(args).out);
}

}  // namespace

int main(int argc, char** argv) {
  int runs = 5;
  std::string base = fs::temp_directory_path().string();
  std::vector<std::string> dumpArgs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else if (a == "--dump-arg" && i + 1 < argc) {
      dumpArgs.push_back(argv[++i]);
    } else {
      fmt::print(stderr, "usage: {} [--runs N] [--dir DIR] [--dump-arg ARG]...\n", argv[0]);
      return 2;
    }
  }
  const std::string tmux = findInPath("tmux");
  if (tmux.empty()) {
    fmt::print("bench_tmux: skipped: tmux is not installed (apt-get install tmux)\n");
    return 0;
  }
  const char* env = std::getenv("CKPT");
  const std::string ckpt = env && *env ? env : CKPT_BINARY;
  fs::path dir;
  try {
    // The server daemonizes, and restored trees lose their parent (ckpt):
    // make them ours to reap, so that their pids are free for the next run.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throwErrno("PR_SET_CHILD_SUBREAPER");
    std::string tmpl = (fs::path(base) / "ckpt-bench-tmux.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throwErrno("mkdtemp in " + base);
    dir = tmpl;
    const std::string img = (dir / "img").string();
    auto withArgs = [&](std::vector<std::string> a) {
      a.insert(a.end(), dumpArgs.begin(), dumpArgs.end());
      return a;
    };
    std::vector<double> liveTotal, liveFreeze, killTotal, killFreeze, restoreMs, runningMs;
    for (int i = 0; i < runs; ++i) {
      Session s(tmux, dir);
      pid_t server = s.start();
      auto tree = treeOf(server);
      if (tree.size() != kWindows + 1)
        throw Error(
            fmt::format("the tmux tree has {} processes, not {}", tree.size(), kWindows + 1));
      fs::remove_all(img);
      auto live = ckptJson(ckpt, withArgs({"dump", std::to_string(server), "-o", img, "--json"}));
      liveTotal.push_back(live["total_ms"].get<double>());
      liveFreeze.push_back(live["freeze_ms"].get<double>());
      fs::remove_all(img);
      auto killed =
          ckptJson(ckpt, withArgs({"dump", std::to_string(server), "-o", img, "--kill", "--json"}));
      killTotal.push_back(killed["total_ms"].get<double>());
      killFreeze.push_back(killed["freeze_ms"].get<double>());
      reapUntilGone(tree);
      auto back = ckptJson(ckpt, {"restore", img, "--detach", "--json"});
      restoreMs.push_back(back["restore_ms"].get<double>());
      runningMs.push_back(back["running_ms"].get<double>());
      s.check();
      s.mustCmd({"kill-server"});
      s.ended();
      reapUntilGone(tree);
    }
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    fmt::print(
        "bench_tmux: tmux server with {} windows (bash --norc each), medians of {} runs; load "
        "average {:.2f} {:.2f} {:.2f}{}\n",
        kWindows, runs, load[0], load[1], load[2],
        dumpArgs.empty() ? "" : fmt::format("; dump args: {}", fmt::join(dumpArgs, " ")));
    fmt::print("| what | ms | target |\n|---|---|---|\n");
    auto row = [](const char* what, const std::vector<double>& v, bool target) {
      fmt::print("| {} | {:.1f} | {} |\n", what, median(v),
                 target ? fmt::format("< {:.0f} ms", kTargetMs) : std::string());
    };
    row("dump, leave running: total", liveTotal, true);
    row("dump, leave running: freeze", liveFreeze, false);
    row("dump --kill: total", killTotal, true);
    row("dump --kill: freeze", killFreeze, false);
    row("restore --detach: restore_ms", restoreMs, true);
    row("restore --detach: running_ms", runningMs, false);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_tmux: {}\n", e.what());
    if (!dir.empty()) fs::remove_all(dir);
    return 1;
  }
  fs::remove_all(dir);
  return 0;
}
