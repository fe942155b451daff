// A VNC desktop under `ckpt vnc run` for the tests: a free display and
// port of its own (tests run in parallel), twm with an xterm showing text,
// xlogo and xcalc, all static; pictures over RFB through the gateway or
// straight from Xvnc's private socket.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "Harness.hpp"
#include "picture/Frame.hpp"
#include "vnc/rfb/RfbConnection.hpp"

namespace ckpt::test {

class VncDesktop {
 public:
  // Starts `ckpt vnc run` (800x600); returns once every window is shown and
  // the picture holds still. `passwordFile`: "" for none.
  VncDesktop(Harness& h, const std::string& passwordFile = "");
  ~VncDesktop();  // stops the gateway (which stops the desktop)

  pid_t gateway() const { return gateway_.pid; }
  pid_t root() const { return root_; }
  int port() const { return port_; }
  int display() const { return display_; }
  const std::string& rfbSocket() const { return rfbSocket_; }
  const std::vector<pid_t>& tree() const { return tree_; }

  // A whole frame straight from Xvnc (not through the gateway).
  picture::Frame direct() const;
  // A whole frame through the gateway.
  picture::Frame viaGateway(const std::string& password = "") const;
  // Waits until two whole frames from Xvnc in a row are equal; returns it.
  picture::Frame stillPicture() const;

  // Points at the xterm and types `text` and Return through `conn`.
  static void typeLine(vnc::RfbConnection& conn, const std::string& text);

 private:
  Harness& h_;
  RunningCommand gateway_;
  pid_t root_ = -1;
  int port_ = 0;
  int display_ = 0;
  std::string rfbSocket_;
  std::vector<pid_t> tree_;
};

// "" when the pictures are equal; otherwise how they differ, with both
// saved as PNG files named after `name` (kept for a person to look at).
std::string comparePictures(const picture::Frame& expected, const picture::Frame& got,
                            const std::string& name);

// Waits (inotify on the folder, bounded) until dir/name exists.
bool waitForEntry(const std::string& dir, const std::string& name, Clock::duration timeout);

// Waits until every pid is gone (reaped by whoever is its parent).
bool waitGone(const std::vector<pid_t>& pids);

}  // namespace ckpt::test
