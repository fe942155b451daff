// Where an RFB server listens, as users write it: ":N" (display N, port
// 5900+N on this host), "HOST:PORT", or the path of a unix socket.
#pragma once

#include <string>

namespace ckpt::vnc {

struct Address {
  std::string host;      // empty for a unix socket
  int port = 0;          // TCP port
  std::string unixPath;  // a unix socket, or empty

  std::string describe() const;
};

// Throws Error saying what is expected when `text` is none of the forms.
Address parseAddress(const std::string& text);

}  // namespace ckpt::vnc
