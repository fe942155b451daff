// Starts a VNC desktop as one process tree that `ckpt dump` can save whole:
// its root (a child of the caller, leading its own session) starts TigerVNC's
// Xvnc as its child, waits until it accepts connections, then becomes the
// session command (exec), with DISPLAY set. Nothing of the tree holds the
// caller's terminal (stdin /dev/null, output to a log file): a terminal
// outside the tree would make the dump refuse.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace ckpt::vnc {

struct DesktopOptions {
  int display = -1;  // -1: the first free one (Xvnc picks it)
  std::string geometry = "1024x768";
  int depth = 24;
  std::vector<std::string> session;  // empty: twm and an xterm
  std::string dir;                   // private folder (0700): the RFB socket, the log
};

struct Desktop {
  pid_t root = -1;
  int display = -1;
  std::string rfbSocket;  // Xvnc's RFB unix socket, for the gateway alone
  std::string logFile;    // Xvnc's and the session's output
};

// Throws Error (naming the display and the log file) when Xvnc does not come up.
Desktop startDesktop(const DesktopOptions& opts);

// The RFB socket of the desktop whose Xvnc has this command line (NUL-separated
// arguments, as /proc/PID/cmdline): "" when it is not an Xvnc started with
// -rfbunixpath. Pure: unit-tested.
std::string rfbSocketOfXvnc(const std::string& cmdline);

}  // namespace ckpt::vnc
