// A connection to an X server with the user's credentials, made by libxcb
// (which reads the Xauthority file and does the setup); the proxy then uses
// its socket directly. Closing it ends everything the client made there.
#pragma once

#include <xcb/xcb.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "x11proxy/proto/ServerView.hpp"

namespace ckpt::x11 {

// The credentials file libxcb would use here ("" when there is none):
// $XAUTHORITY, else ~/.Xauthority.
std::string defaultXauthority();

class Upstream {
 public:
  // `display` like ":1"; `xauthority` the credentials file ("": the environment's).
  // Throws, naming the display, when the server cannot be reached or refuses.
  Upstream(std::string display, std::string xauthority);
  int fd() const { return xcb_get_file_descriptor(conn_.get()); }
  xcb_connection_t* xcb() const { return conn_.get(); }
  // The setup reply as the server sent it (what the client receives).
  std::span<const std::uint8_t> setupBytes() const;
  const ServerView& view() const { return view_; }
  const std::string& display() const { return display_; }
  const std::string& xauthority() const { return xauthority_; }

 private:
  struct Disconnect {
    void operator()(xcb_connection_t* c) const { xcb_disconnect(c); }
  };
  std::string display_, xauthority_;
  std::unique_ptr<xcb_connection_t, Disconnect> conn_;
  ServerView view_;
};

}  // namespace ckpt::x11
