// Subprocess: fork and exec with two pipes; see Subprocess.hpp.
#include "cli/Subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt::cli {

Subprocess::Subprocess(const std::vector<std::string>& argv) {
  int inPipe[2], outPipe[2];
  if (pipe2(inPipe, O_CLOEXEC) != 0) throwErrno("creating a pipe for " + argv.at(0));
  UniqueFd inRead(inPipe[0]);
  in_.reset(inPipe[1]);
  if (pipe2(outPipe, O_CLOEXEC) != 0) throwErrno("creating a pipe for " + argv.at(0));
  out_.reset(outPipe[0]);
  UniqueFd outWrite(outPipe[1]);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ < 0) throwErrno("starting " + argv[0]);
  if (pid_ == 0) {
    // Only async-signal-safe calls from here to exec.
    dup2(inRead.get(), STDIN_FILENO);
    dup2(outWrite.get(), STDOUT_FILENO);
    signal(SIGPIPE, SIG_DFL);
    execvp(args[0], args.data());
    const char msg[] = "ckpt: cannot run a helper program (is it installed?)\n";
    (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
}

Subprocess::~Subprocess() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

int Subprocess::finish(std::string& out) {
  in_.reset();
  char buf[4096];
  for (;;) {
    ssize_t n = read(out_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  out_.reset();
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0)
    if (errno != EINTR) throwErrno(fmt::format("waiting for pid {}", pid_));
  pid_ = -1;
  return status;
}

std::string describeStatus(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("killed by signal {} ({})", WTERMSIG(status),
                       sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "?");
  return fmt::format("wait status {:#x}", status);
}

}  // namespace ckpt::cli
