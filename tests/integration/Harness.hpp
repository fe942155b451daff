// Integration-test harness: starts test programs with the zdtm protocol (see
// tests/programs/zdtm.hpp), runs the ckpt binary, and waits for processes
// with bounded waits (no sleeps). The test process is a child subreaper, so
// restored trees are reparented to it and killed trees are reaped at once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace ckpt::test {

using Clock = std::chrono::steady_clock;
using Seconds = std::chrono::seconds;
// Upper bound of every wait: generous, so only a hang reaches it.
inline constexpr Seconds kTimeout{60};

// How a process ended (or why we stopped waiting for it).
struct ExitStatus {
  enum Kind { Exited, Signaled, TimedOut, NotChild, Error } kind = Error;
  int code = -1;  // exit code, or signal number
  bool exitedWith(int c) const { return kind == Exited && code == c; }
  bool ok() const { return exitedWith(0); }
  std::string describe() const;
};

// One run of the ckpt binary.
struct CommandResult {
  std::string cmdline;
  ExitStatus status;
  std::string out, err;
  std::string describe() const;  // cmdline, status, stdout and stderr
};

// A ckpt process started in the background (foreground restore).
struct RunningCommand {
  pid_t pid = -1;
  int outFd = -1, errFd = -1;
  std::string cmdline;
};

// A test program and its arguments; `argv[0]` is a path.
struct ProgramCase {
  std::string name;  // test-name suffix
  std::vector<std::string> argv;
};

// How spawn() knows the program is ready.
enum class Ready {
  Protocol,  // the program writes "ready\n" to CKPT_READY_FD and closes it
  Exec,      // any program: ready once exec succeeded (a close-on-exec pipe closes)
};

std::string programPath(const std::string& name);  // built test program
std::string ckptBinary();

class Harness {
 public:
  Harness();   // subreaper, SIGCHLD blocked, fresh temp dir
  ~Harness();  // kills every descendant left, reaps, removes the temp dir
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  const std::string& dir() const { return dir_; }
  std::string workDir() const { return dir_ + "/work"; }  // programs' cwd and CKPT_TEST_DIR
  std::string imageDir(const std::string& name = "img") const { return dir_ + "/" + name; }
  std::string logPath() const { return dir_ + "/program.log"; }

  // Starts argv in its own session with stdin /dev/null and stdout/stderr
  // appended to logPath(); returns its pid once ready. Throws (with the log)
  // if it exits or times out first, or keeps the ready pipe open.
  pid_t spawn(const std::vector<std::string>& argv, Ready ready = Ready::Protocol);
  pid_t spawn(const ProgramCase& p) { return spawn(p.argv); }

  // Waits for a child (or a process reparented to us) to end, and reaps it.
  ExitStatus waitExit(pid_t pid, Clock::duration timeout = kTimeout);
  // Reaps children until none is left; false on timeout.
  bool reapAll(Clock::duration timeout = kTimeout);
  // SIGKILLs every descendant (repeatedly, as orphans reach us) and reaps them.
  void killAll();

  // Runs `ckpt args...`, capturing stdout and stderr; kills it on timeout.
  CommandResult runCkpt(const std::vector<std::string>& args, Clock::duration timeout = kTimeout);
  RunningCommand startCkpt(const std::vector<std::string>& args);
  // The same for any program (argv[0] a path, or a name looked up in PATH).
  // `report`: false for polls repeated many times (kept out of report()).
  CommandResult run(const std::vector<std::string>& argv, Clock::duration timeout = kTimeout,
                    bool report = true);
  RunningCommand start(const std::vector<std::string>& argv);
  // Collects the output and status of a started command (ckpt or any).
  CommandResult finish(RunningCommand& cmd, Clock::duration timeout = kTimeout, bool report = true);

  // The pids of root and all its descendants (from /proc/PID/task/TID/children).
  static std::vector<pid_t> treePids(pid_t root);

  // Everything useful after a failure: the program log, every ckpt run, and
  // any log files in the image directories.
  std::string report() const;
  std::string log() const;

 private:
  std::string dir_;
  std::vector<CommandResult> runs_;
  sigset_t oldMask_;
};

// Parses `ckpt restore --detach` stdout: one line holding the root pid; -1 otherwise.
pid_t parsePidLine(const std::string& out);

// True if a process (or zombie) with this pid exists.
bool pidExists(pid_t pid);

// A TCP port on 127.0.0.1 the kernel has just given out (and taken back):
// free unless another process races for it. Throws when there is none.
int freeLoopbackPort();

// Polls `pred` with a short backoff until it holds or the timeout passes.
// Only for conditions the kernel offers no event for (a process's state in
// /proc); never used to wait for something we could be told about.
bool waitUntil(const std::function<bool()>& pred, Clock::duration timeout = kTimeout);

// Waits (inotify on the file, bounded) until `done` holds; `done` is
// evaluated first and after every change to the file.
bool waitForFile(const std::string& file, const std::function<bool()>& done,
                 Clock::duration timeout = kTimeout);

// Reads whole lines from `fd` until `n` have come (or the timeout).
std::vector<std::string> readLines(int fd, size_t n, Clock::duration timeout = kTimeout);

// Reads a whole file; empty string if it cannot be read.
std::string readFile(const std::string& path);

// Flips one byte (xor 0x5a) at `offset` of a file in place; false if it
// cannot (an image made corrupt on purpose).
bool flipByte(const std::string& path, uint64_t offset);

// Field 3 of /proc/PID/stat (R, S, D, Z, T, ...), or '?' if gone.
char processState(pid_t pid);

}  // namespace ckpt::test
