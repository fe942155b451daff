// `ckpt vnc snapshot`: one whole frame of a desktop over RFB.
#pragma once

#include <chrono>
#include <string>

#include "picture/Frame.hpp"
#include "vnc/rfb/Address.hpp"

namespace ckpt::vnc {

// Connects, waits for an update that covers the whole screen, disconnects.
// Throws Error naming the address when it cannot.
picture::Frame takeSnapshot(const Address& address, const std::string& password,
                            std::chrono::milliseconds timeout = std::chrono::seconds(10));

// The password in a --password-file: its first line (VNC authentication
// uses at most 8 characters of it). Throws Error naming the file.
std::string readPasswordFile(const std::string& path);

}  // namespace ckpt::vnc
