// `ckpt x11 run [--pidfile F] [--] CMD [ARGS...]`: runs an X client behind
// ckpt's X11 proxy, as the root of the tree to dump.
// `ckpt x11 move PID --display :M`: moves the proxied client to another server.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cli/Commands.hpp"
#include "core/util/Error.hpp"
#include "x11proxy/proxy/ControlSocket.hpp"
#include "x11proxy/proxy/Proxy.hpp"
#include "x11proxy/proxy/Upstream.hpp"

namespace ckpt::cli {

int x11RunCommand(const X11RunOptions& opts) {
  return x11::runProxy({opts.command, opts.pidfile});
}

int x11MoveCommand(const X11MoveOptions& opts) {
  if (opts.pid <= 0) throw Error("give the proxy's pid (from `ckpt x11 run --pidfile`)");
  nlohmann::json request = {
      {"move", {{"display", opts.display}, {"xauthority", x11::defaultXauthority()}}}};
  // Moving reads every pixmap from the old server: allow for large clients.
  nlohmann::json answer = x11::askProxy(opts.pid, request, 60000);
  if (opts.json) {
    std::printf("%s\n", answer.dump().c_str());
    return answer.value("ok", false) ? 0 : 1;
  }
  if (!answer.value("ok", false))
    throw Error("pid " + std::to_string(opts.pid) + ": " +
                answer.value("error", std::string("the proxy refused the move")));
  for (const auto& w : answer.value("warnings", nlohmann::json::array()))
    std::fprintf(stderr, "ckpt: x11 move: warning: %s\n", w.get<std::string>().c_str());
  std::printf("moved %d connection%s to %s\n", answer.value("connections", 0),
              answer.value("connections", 0) == 1 ? "" : "s", opts.display.c_str());
  return 0;
}

}  // namespace ckpt::cli
