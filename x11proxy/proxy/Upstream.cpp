// Connecting to an X server (see Upstream.hpp).
#include "x11proxy/proxy/Upstream.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "core/util/Error.hpp"

namespace ckpt::x11 {
namespace {

// libxcb takes the credentials file from XAUTHORITY: set it for the call only.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (!value.empty()) ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// Large socket buffers: bulk drawing (PutImage) then crosses the proxy in a
// few large reads and writes instead of many small ones.
void widenBuffers(int fd) {
  int size = 4 * 1024 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

}  // namespace

std::string defaultXauthority() {
  if (const char* x = std::getenv("XAUTHORITY"); x && *x) return x;
  if (const char* home = std::getenv("HOME"); home && *home) {
    std::string path = std::string(home) + "/.Xauthority";
    if (::access(path.c_str(), R_OK) == 0) return path;
  }
  return "";
}

Upstream::Upstream(std::string display, std::string xauthority)
    : display_(std::move(display)), xauthority_(std::move(xauthority)) {
  {
    ScopedEnv env("XAUTHORITY", xauthority_);
    conn_.reset(xcb_connect(display_.c_str(), nullptr));
  }
  if (int err = xcb_connection_has_error(conn_.get()))
    throw Error("x11: cannot connect to the X server " + display_ +
                (err == XCB_CONN_CLOSED_PARSE_ERR ? " (not a display name)"
                                                  : " (is it running, and may you use it? "
                                                    "check DISPLAY and XAUTHORITY)"));
  view_ = parseSetup(setupBytes());
  widenBuffers(fd());
}

std::span<const std::uint8_t> Upstream::setupBytes() const {
  const xcb_setup_t* setup = xcb_get_setup(conn_.get());
  return {reinterpret_cast<const std::uint8_t*>(setup), 8 + std::size_t(setup->length) * 4};
}

}  // namespace ckpt::x11
