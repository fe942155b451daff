// The child reports a failed exec through a close-on-exec pipe: the parent
// reads either nothing (exec worked) or the child's errno.
#include "tty/run/PtySpawn.hpp"

#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/Error.hpp"

namespace ckpt::tty {
namespace {

UniqueFd openMaster() {
  UniqueFd master(posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) throwErrno("posix_openpt");
  if (grantpt(master.get()) != 0 || unlockpt(master.get()) != 0) throwErrno("unlockpt");
  return master;
}

UniqueFd openSlave(int master) {
  // TIOCGPTPEER opens the slave of this very master, with no path lookup.
  // Its flags become the file's own (not only this fd's), and /proc shows
  // them for every fd of the file: with O_CLOEXEC among them, the program's
  // fds 0-2 would look close-on-exec to a dump, and be restored so.
  UniqueFd slave(ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY));
  if (!slave) throwErrno("opening the pty's slave");
  if (fcntl(slave.get(), F_SETFD, FD_CLOEXEC) != 0) throwErrno("fcntl FD_CLOEXEC");
  return slave;
}

void setModes(int slave, const std::optional<termios>& userModes) {
  termios t{};
  if (tcgetattr(slave, &t) != 0) throwErrno("tcgetattr of the new pty");
  t.c_iflag |= IUTF8;
  if (userModes) t.c_cc[VERASE] = userModes->c_cc[VERASE];
  if (tcsetattr(slave, TCSANOW, &t) != 0) throwErrno("tcsetattr of the new pty");
}

[[noreturn]] void execChild(int slave, int errPipe, const std::vector<std::string>& argv) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  int err = 0;
  if (setsid() < 0 || ioctl(slave, TIOCSCTTY, 0) != 0) err = errno;
  for (int fd = 0; fd <= 2 && !err; ++fd)
    if (dup2(slave, fd) < 0) err = errno;
  if (!err) {
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    err = errno;
  }
  (void)!write(errPipe, &err, sizeof err);
  _exit(127);
}

}  // namespace

void setPtySize(int master, WindowSize size) {
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(size.rows);
  ws.ws_col = static_cast<unsigned short>(size.cols);
  if (ioctl(master, TIOCSWINSZ, &ws) != 0) throwErrno("setting the pty's window size");
}

SpawnedPty spawnOnPty(const std::vector<std::string>& argv, WindowSize size,
                      const std::optional<termios>& userModes) {
  if (argv.empty()) throw Error("no command to run");
  SpawnedPty out;
  out.master = openMaster();
  UniqueFd slave = openSlave(out.master.get());
  setModes(slave.get(), userModes);
  setPtySize(out.master.get(), size);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throwErrno("pipe2");
  UniqueFd errRead(p[0]), errWrite(p[1]);
  out.pid = fork();
  if (out.pid < 0) throwErrno("fork");
  if (out.pid == 0) execChild(slave.get(), errWrite.get(), argv);
  errWrite.reset();
  int err = 0;
  ssize_t n;
  do n = read(errRead.get(), &err, sizeof err);
  while (n < 0 && errno == EINTR);
  if (n == sizeof err) {
    waitpid(out.pid, nullptr, 0);
    throw SysError("cannot run '" + argv[0] + "'", err);
  }
  // The slave stays open here until the command holds it, so the master
  // never sees "every slave closed" before the command started.
  slave.reset();
  if (fcntl(out.master.get(), F_SETFL, O_NONBLOCK | O_RDWR) != 0) throwErrno("fcntl O_NONBLOCK");
  return out;
}

}  // namespace ckpt::tty
