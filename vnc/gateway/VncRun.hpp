// `ckpt vnc run`: a desktop (vnc/desktop) behind a gateway (ViewerServer
// towards viewers, an RfbConnection towards the desktop) that outlives a
// dump --kill of the desktop and reconnects once it is restored.
#pragma once

#include <string>
#include <vector>

namespace ckpt::vnc {

struct VncRunOptions {
  int display = -1;  // -1: the first free display
  int rfbport = -1;  // -1: 5900 + display
  std::string geometry = "1024x768";
  int depth = 24;
  std::string passwordFile;
  std::string pidfile;
  std::vector<std::string> session;
};

// Runs until the session ends by itself (its status is returned) or the
// gateway gets SIGINT, SIGTERM or SIGHUP (it stops the desktop; 0).
int runVnc(const VncRunOptions& opts);

}  // namespace ckpt::vnc
