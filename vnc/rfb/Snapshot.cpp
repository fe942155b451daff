#include "vnc/rfb/Snapshot.hpp"

#include <fstream>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "vnc/rfb/RfbConnection.hpp"

namespace ckpt::vnc {

picture::Frame takeSnapshot(const Address& address, const std::string& password,
                            std::chrono::milliseconds timeout) {
  RfbConnection conn(
      address, password,
      std::chrono::duration_cast<std::chrono::seconds>(timeout) + std::chrono::seconds(1));
  // The connection asked for a whole frame when it was made.
  if (!conn.waitFullFrame(timeout))
    throw Error(
        fmt::format("VNC {}: no whole frame came within {} ms (the desktop is "
                    "frozen or gone?)",
                    address.describe(), timeout.count()));
  return conn.frame();
}

std::string readPasswordFile(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    throw Error(
        fmt::format("password file {}: cannot be read; give a file whose first line "
                    "is the VNC password",
                    path));
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty())
    throw Error(fmt::format("password file {}: the first line (the password) is empty", path));
  return line;
}

}  // namespace ckpt::vnc
