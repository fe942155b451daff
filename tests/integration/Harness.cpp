// Integration-test harness: process spawning, bounded waits, ckpt runs.
#include "Harness.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "core/util/UniqueFd.hpp"

namespace ckpt::test {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

std::string joinCmdline(const std::vector<std::string>& argv) {
  std::string out;
  for (auto& a : argv) {
    if (!out.empty()) out += ' ';
    bool quote = a.empty() || a.find_first_of(" \t\n'\"$;") != std::string::npos;
    out += quote ? "'" + a + "'" : a;
  }
  return out;
}

// argv/envp arrays built before fork: the child only calls async-signal-safe functions.
struct CArgs {
  explicit CArgs(const std::vector<std::string>& v) : strings(v) {
    for (auto& s : strings) ptrs.push_back(s.data());
    ptrs.push_back(nullptr);
  }
  std::vector<std::string> strings;
  std::vector<char*> ptrs;
  char** get() { return ptrs.data(); }
};

// In a forked child: default signal state, as a freshly started program expects.
void resetSignals() {
  for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
}

void childWrite(int fd, const char* a, const char* b) {
  (void)!write(fd, a, strlen(a));
  (void)!write(fd, b, strlen(b));
  (void)!write(fd, "\n", 1);
}

std::vector<std::string> baseEnviron() {
  std::vector<std::string> env;
  for (char** e = environ; *e; e++) env.emplace_back(*e);
  return env;
}

// Waits for "ready\n" and then EOF on fd. EOF right after "ready" means no
// process of the tree kept the pipe: the dump sees nothing of the harness.
std::string awaitReady(int fd, Ready mode, Clock::time_point deadline) {
  std::string got;
  char buf[256];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, msLeft(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (mode == Ready::Protocol && got == "ready\n")
        return "the program wrote \"ready\" but kept the ready pipe open (a child inherited "
               "CKPT_READY_FD?)";
      return "no \"ready\" within the timeout (got \"" + got + "\")";
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  if (mode == Ready::Exec) return got.empty() ? "" : "exec failed: " + got;
  return got == "ready\n" ? "" : "the program closed the ready pipe after \"" + got + "\"";
}

}  // namespace

std::string ExitStatus::describe() const {
  switch (kind) {
    case Exited:
      return "exited with status " + std::to_string(code);
    case Signaled:
      return "killed by signal " + std::to_string(code) + " (" + strsignal(code) + ")";
    case TimedOut:
      return "did not exit within the timeout";
    case NotChild:
      return "is not a child of the test process (waitpid: ECHILD)";
    case Error:
      break;
  }
  return "wait failed";
}

std::string CommandResult::describe() const {
  return "$ " + cmdline + "\n  " + status.describe() +
         "\n  stdout: " + (out.empty() ? "(empty)" : out) +
         "\n  stderr: " + (err.empty() ? "(empty)\n" : err);
}

std::string programPath(const std::string& name) {
  return std::string(CKPT_TEST_PROGRAMS_DIR) + "/" + name;
}
std::string ckptBinary() {
  return CKPT_BINARY;
}

std::string readFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

bool flipByte(const std::string& path, uint64_t offset) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  char c = 0;
  if (!fd || pread(fd.get(), &c, 1, off_t(offset)) != 1) return false;
  c = char(c ^ 0x5a);
  return pwrite(fd.get(), &c, 1, off_t(offset)) == 1;
}

char processState(pid_t pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return '?';
  return stat[paren + 2];
}

int freeLoopbackPort() {
  UniqueFd s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (!s || bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(s.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("no free TCP port on 127.0.0.1");
  return ntohs(a.sin_port);
}

bool pidExists(pid_t pid) {
  return kill(pid, 0) == 0 || errno == EPERM;
}

bool waitUntil(const std::function<bool()>& pred, Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::microseconds(200);
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(20));
  }
  return true;
}

pid_t parsePidLine(const std::string& out) {
  std::string s = out;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return static_cast<pid_t>(std::stol(s));
}

Harness::Harness() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail("PR_SET_CHILD_SUBREAPER");
  // SIGCHLD stays blocked: waits take it with sigtimedwait, so none is lost.
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &oldMask_);
  char tmpl[] = "/tmp/ckpt-it-XXXXXX";
  if (!mkdtemp(tmpl)) fail("mkdtemp");
  dir_ = tmpl;
  if (mkdir(workDir().c_str(), 0755) != 0) fail("mkdir " + workDir());
}

Harness::~Harness() {
  killAll();
  if (getenv("CKPT_KEEP_TEST_DIR")) {
    fprintf(stderr, "[harness] kept %s\n", dir_.c_str());
  } else {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  sigprocmask(SIG_SETMASK, &oldMask_, nullptr);
}

pid_t Harness::spawn(const std::vector<std::string>& argv, Ready ready) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) fail("pipe2");
  // Keep both ends above 3 so that dup2 onto 3 cannot clobber them.
  UniqueFd rd(fcntl(p[0], F_DUPFD_CLOEXEC, 10)), wr(fcntl(p[1], F_DUPFD_CLOEXEC, 10));
  close(p[0]);
  close(p[1]);

  std::vector<std::string> env = baseEnviron();
  std::erase_if(env, [](const std::string& e) {
    return e.starts_with("CKPT_READY_FD=") || e.starts_with("CKPT_TEST_DIR=");
  });
  if (ready == Ready::Protocol) env.push_back("CKPT_READY_FD=3");
  env.push_back("CKPT_TEST_DIR=" + workDir());
  CArgs cargv(argv), cenv(env);
  const std::string logFile = logPath(), work = workDir();

  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    resetSignals();
    setsid();  // its own session and group: the tree is self-contained
    int in = open("/dev/null", O_RDONLY);
    int out = open(logFile.c_str(), O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (in < 0 || out < 0 || chdir(work.c_str()) != 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    dup2(wr.get(), 3);  // clears close-on-exec: a Protocol program inherits it
    if (ready == Ready::Exec) fcntl(3, F_SETFD, FD_CLOEXEC);  // closes at exec: the signal
    syscall(SYS_close_range, 4, ~0U, 0);
    execve(cargv.get()[0], cargv.get(), cenv.get());
    childWrite(ready == Ready::Exec ? 3 : 2, "exec failed: ", cargv.get()[0]);
    _exit(127);
  }
  wr.reset();
  std::string err = awaitReady(rd.get(), ready, Clock::now() + kTimeout);
  if (!err.empty()) {
    kill(pid, SIGKILL);
    waitExit(pid, Seconds(10));
    throw std::runtime_error("starting " + joinCmdline(argv) + ": " + err + "\n--- program log\n" +
                             log());
  }
  return pid;
}

ExitStatus Harness::waitExit(pid_t pid, Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG | __WALL);
    if (r == pid) {
      if (WIFEXITED(st)) return {ExitStatus::Exited, WEXITSTATUS(st)};
      if (WIFSIGNALED(st)) return {ExitStatus::Signaled, WTERMSIG(st)};
      continue;
    }
    if (r < 0) {
      if (errno == EINTR) continue;
      return {errno == ECHILD ? ExitStatus::NotChild : ExitStatus::Error, errno};
    }
    int ms = msLeft(deadline);
    if (ms == 0) return {ExitStatus::TimedOut, -1};
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

bool Harness::reapAll(Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  for (;;) {
    int st;
    pid_t r = waitpid(-1, &st, WNOHANG | __WALL);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno == ECHILD;
    int ms = msLeft(deadline);
    if (ms == 0) return false;
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

void Harness::killAll() {
  // Orphans reach us as their parents die: repeat until nothing is left.
  for (int round = 0; round < 50; round++) {
    auto pids = treePids(getpid());
    std::erase(pids, getpid());
    for (pid_t p : pids) kill(p, SIGKILL);
    int st;
    while (waitpid(-1, &st, WNOHANG | __WALL) > 0) {
    }
    if (pids.empty()) break;
    if (reapAll(Seconds(1))) break;
  }
  reapAll(Seconds(10));
}

std::vector<pid_t> Harness::treePids(pid_t root) {
  std::vector<pid_t> out{root};
  for (size_t i = 0; i < out.size(); i++) {
    std::string taskDir = "/proc/" + std::to_string(out[i]) + "/task";
    DIR* d = opendir(taskDir.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string children = readFile(taskDir + "/" + e->d_name + "/children");
      size_t pos = 0;
      while (pos < children.size()) {
        size_t end = children.find(' ', pos);
        if (end == std::string::npos) end = children.size();
        if (end > pos) out.push_back(std::stoi(children.substr(pos, end - pos)));
        pos = end + 1;
      }
    }
    closedir(d);
  }
  return out;
}

RunningCommand Harness::startCkpt(const std::vector<std::string>& args) {
  std::vector<std::string> argv{ckptBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return start(argv);
}

RunningCommand Harness::start(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) fail("pipe2");
  CArgs cargv(argv);
  pid_t pid = fork();
  if (pid < 0) fail("fork");
  if (pid == 0) {
    resetSignals();
    int in = open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    syscall(SYS_close_range, 3, ~0U, 0);
    execvp(cargv.get()[0], cargv.get());
    childWrite(2, "exec failed: ", cargv.get()[0]);
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  return {pid, out[0], err[0], joinCmdline(argv)};
}

CommandResult Harness::finish(RunningCommand& cmd, Clock::duration timeout, bool report) {
  auto deadline = Clock::now() + timeout;
  CommandResult res;
  res.cmdline = cmd.cmdline;
  UniqueFd out(cmd.outFd), err(cmd.errFd);
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, cmd.pid, 0)));
  cmd.outFd = cmd.errFd = -1;
  bool exited = false, timedOut = false;
  // Read until ckpt has exited and its pipes are drained; not until EOF: a
  // restored tree that wrongly inherited ckpt's stdout would hold it open.
  for (;;) {
    pollfd p[3] = {
        {out.get(), POLLIN, 0}, {err.get(), POLLIN, 0}, {exited ? -1 : pidfd.get(), POLLIN, 0}};
    int n = poll(p, 3, exited ? 0 : msLeft(deadline));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 && !exited) {
        timedOut = true;
        kill(cmd.pid, SIGKILL);
      }
      break;
    }
    for (int i = 0; i < 2; i++) {
      if (!p[i].revents) continue;
      char buf[4096];
      ssize_t r = read(p[i].fd, buf, sizeof buf);
      if (r > 0)
        (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(r));
      else
        (i == 0 ? out : err).reset();
    }
    if (p[2].revents) exited = true;
    if (exited && !out && !err) break;
  }
  res.status = waitExit(cmd.pid, Seconds(10));
  if (timedOut) res.status = {ExitStatus::TimedOut, -1};
  if (report) runs_.push_back(res);
  return res;
}

CommandResult Harness::runCkpt(const std::vector<std::string>& args, Clock::duration timeout) {
  RunningCommand cmd = startCkpt(args);
  return finish(cmd, timeout);
}

CommandResult Harness::run(const std::vector<std::string>& argv, Clock::duration timeout,
                           bool report) {
  RunningCommand cmd = start(argv);
  return finish(cmd, timeout, report);
}

std::string Harness::log() const {
  return readFile(logPath());
}

std::string Harness::report() const {
  std::string r = "--- temp dir: " + dir_ + "\n--- program log (" + logPath() + "):\n" + log();
  for (auto& run : runs_) r += "--- ckpt run:\n" + run.describe();
  // ckpt also logs into the image directory (complete or partial).
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (!entry.is_directory() || entry.path().filename() == "work") continue;
    for (auto& f : std::filesystem::directory_iterator(entry.path(), ec)) {
      if (f.path().extension() != ".log") continue;
      std::string text = readFile(f.path());
      if (text.size() > 20000) text = "...\n" + text.substr(text.size() - 20000);
      r += "--- " + f.path().string() + ":\n" + text;
    }
  }
  return r;
}

bool waitForFile(const std::string& file, const std::function<bool()>& done,
                 Clock::duration timeout) {
  auto deadline = Clock::now() + timeout;
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return false;
  bool ok = false;
  if (inotify_add_watch(in, file.c_str(), IN_MODIFY) >= 0) {
    for (;;) {
      if (done()) {
        ok = true;
        break;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) break;
      pollfd p{in, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) > 0) {
        char buf[4096];
        while (read(in, buf, sizeof buf) > 0) {
        }
      }
    }
  }
  close(in);
  return ok;
}

// Reads whole lines from `fd` until `n` have come (or the timeout).
std::vector<std::string> readLines(int fd, size_t n, Clock::duration timeout) {
  std::vector<std::string> lines;
  std::string buf;
  auto deadline = Clock::now() + timeout;
  while (lines.size() < n && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) continue;
    char chunk[4096];
    ssize_t r = read(fd, chunk, sizeof chunk);
    if (r <= 0) break;
    buf.append(chunk, size_t(r));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos;) {
      lines.push_back(buf.substr(0, nl));
      buf.erase(0, nl + 1);
    }
  }
  return lines;
}

}  // namespace ckpt::test
