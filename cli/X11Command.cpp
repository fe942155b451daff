// `ckpt x11 run [--pidfile F] [--] CMD [ARGS...]`: runs an X client behind
// ckpt's X11 proxy, as the root of the tree to dump.
#include "cli/Commands.hpp"
#include "x11proxy/proxy/Proxy.hpp"

namespace ckpt::cli {

int x11RunCommand(const X11RunOptions& opts) {
  return x11::runProxy({opts.command, opts.pidfile});
}

}  // namespace ckpt::cli
