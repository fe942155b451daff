#include "vnc/desktop/Desktop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::vnc {
namespace {

// Where Xvnc tells the display it took (-displayfd), in Xvnc's fd table.
constexpr int kDisplayFd = 3;

std::vector<char*> cArgs(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

// In the forked root (async-signal-safe calls only up to the exec).
[[noreturn]] void runRoot(int logFd, int statusFd, std::vector<char*>& xvnc,
                          std::vector<char*>& session) {
  setsid();
  // ckpt vnc run blocks the signals it reads from a signalfd: not the desktop's.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  int null = open("/dev/null", O_RDONLY);
  dup2(null, 0);
  dup2(logFd, 1);
  dup2(logFd, 2);
  if (null > 2) close(null);
  // Nothing else of ckpt vnc run's (or of whoever started it) goes into the
  // desktop: an fd shared with the outside would come back half-closed.
  if (dup2(statusFd, 3) < 0) _exit(127);
  statusFd = 3;
  close_range(4, ~0U, 0);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) _exit(127);
  pid_t x = fork();
  if (x < 0) _exit(127);
  if (x == 0) {
    // dup2 onto itself would keep close-on-exec: clear it then.
    if (p[1] == kDisplayFd ? fcntl(kDisplayFd, F_SETFD, 0) < 0 : dup2(p[1], kDisplayFd) < 0)
      _exit(127);
    execvp(xvnc[0], xvnc.data());
    static const char msg[] =
        "ckpt vnc: cannot run Xvnc (is tigervnc-standalone-server installed?)\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(p[1]);
  // Xvnc writes "N\n" once it accepts connections; EOF: it failed.
  char buf[16];
  size_t len = 0;
  while (len < sizeof buf - 1) {
    ssize_t n = read(p[0], buf + len, sizeof buf - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(127);
    len += size_t(n);
    if (buf[len - 1] == '\n') break;
  }
  close(p[0]);
  if (write(statusFd, buf, len) != ssize_t(len)) _exit(127);
  close(statusFd);  // fd 3: the session starts with 0, 1 and 2 only
  buf[len > 0 ? len - 1 : 0] = '\0';
  char display[24] = ":";
  std::strncat(display, buf, sizeof display - 2);
  setenv("DISPLAY", display, 1);
  execvp(session[0], session.data());
  static const char msg[] = "ckpt vnc: cannot run the session command\n";
  (void)!write(2, msg, sizeof msg - 1);
  _exit(127);
}

void writeTwmrc(const std::string& path) {
  static const char kTwmrc[] =
      "# Written by ckpt vnc run: fonts every X server has, no placing by hand.\n"
      "TitleFont \"fixed\"\nResizeFont \"fixed\"\nMenuFont \"fixed\"\n"
      "IconFont \"fixed\"\nIconManagerFont \"fixed\"\nRandomPlacement\nNoGrabServer\n";
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd || ::write(fd.get(), kTwmrc, sizeof kTwmrc - 1) != ssize_t(sizeof kTwmrc - 1))
    throwErrno(fmt::format("vnc run: write {}", path));
}

}  // namespace

std::string rfbSocketOfXvnc(const std::string& cmdline) {
  std::vector<std::string> args;
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    args.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  if (args.empty()) return "";
  const std::string& exe = args[0];
  std::string base = exe.substr(exe.rfind('/') == std::string::npos ? 0 : exe.rfind('/') + 1);
  if (base != "Xvnc") return "";
  for (size_t i = 1; i + 1 < args.size(); ++i)
    if (args[i] == "-rfbunixpath" || args[i] == "--rfbunixpath" || args[i] == "-RfbUnixPath")
      return args[i + 1];
  return "";
}

Desktop startDesktop(const DesktopOptions& opts) {
  Desktop d;
  d.rfbSocket = opts.dir + "/rfb.sock";
  d.logFile = opts.dir + "/desktop.log";
  // The RFB server of the desktop listens on a unix socket in a private
  // folder, not on a TCP port: the folder's mode keeps other users out with
  // no password of its own, no port can be taken meanwhile by another
  // program while the desktop is dumped, and core brings a listening unix
  // socket back at the same path, so the gateway finds it again. TCP is off
  // (-rfbport -1): viewers come in through the gateway only.
  std::vector<std::string> xvnc{"Xvnc"};
  if (opts.display >= 0) xvnc.push_back(fmt::format(":{}", opts.display));
  xvnc.insert(xvnc.end(),
              {"-displayfd", std::to_string(kDisplayFd), "-rfbunixpath", d.rfbSocket, "-rfbport",
               "-1", "-SecurityTypes", "None", "-AlwaysShared", "-geometry", opts.geometry,
               "-depth", std::to_string(opts.depth), "-desktop", "ckpt", "-nolisten", "tcp"});
  // twm's built-in configuration asks for fonts that a minimal system lacks
  // (it exits then) and places windows by hand: the default session runs it
  // with this file, which sessions of one's own may use too ($CKPT_VNC_DIR).
  writeTwmrc(opts.dir + "/twmrc");
  std::vector<std::string> session = opts.session;
  if (session.empty())
    session = {"/bin/sh", "-c",
               "xterm -geometry 80x24+20+20 & exec twm -f \"$CKPT_VNC_DIR/twmrc\""};
  auto xvncArgs = cArgs(xvnc);
  auto sessionArgs = cArgs(session);

  if (setenv("CKPT_VNC_DIR", opts.dir.c_str(), 1) != 0) throwErrno("vnc run: setenv");
  UniqueFd log(::open(d.logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!log) throwErrno(fmt::format("vnc run: create the desktop log {}", d.logFile));
  int sp[2];
  if (pipe2(sp, O_CLOEXEC) != 0) throwErrno("vnc run: pipe");
  UniqueFd statusRead(sp[0]), statusWrite(sp[1]);
  pid_t root = fork();
  if (root < 0) throwErrno("vnc run: fork the desktop");
  if (root == 0) runRoot(log.get(), statusWrite.get(), xvncArgs, sessionArgs);
  statusWrite.reset();
  d.root = root;

  // Xvnc comes up in well under a second; a generous bound for loaded machines.
  std::string got;
  pollfd p{statusRead.get(), POLLIN, 0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(
                       deadline - std::chrono::steady_clock::now())
                       .count());
    if (left <= 0 || ::poll(&p, 1, left) == 0) break;
    char buf[16];
    ssize_t n = ::read(statusRead.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got.append(buf, size_t(n));
    if (got.back() == '\n') break;
  }
  if (got.empty() || got.back() != '\n') {
    kill(-root, SIGTERM);
    kill(root, SIGKILL);
    waitpid(root, nullptr, 0);
    throw Error(fmt::format(
        "vnc run: Xvnc{} did not start; its messages are in {}{}",
        opts.display >= 0 ? fmt::format(" on display :{}", opts.display) : "", d.logFile,
        opts.display >= 0 ? " (is the display taken? try another --display)" : ""));
  }
  d.display = std::atoi(got.c_str());
  return d;
}

}  // namespace ckpt::vnc
