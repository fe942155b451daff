// `ckpt x11 run`: the proxy's display, the client command it starts, and the
// single-threaded loop that serves every client connection.
#pragma once

#include <string>
#include <vector>

namespace ckpt::x11 {

struct ProxyOptions {
  std::vector<std::string> command;
  std::string pidfile;
};

// Runs the command behind a proxy display; returns the command's exit status
// once it has exited and its last connection has closed.
int runProxy(const ProxyOptions& opts);

}  // namespace ckpt::x11
