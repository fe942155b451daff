// One RFB connection to a VNC server through libvncclient, owned: the
// client and its framebuffer are freed on every path. Used by snapshots,
// the dump-side thumbnail, the gateway's link to its desktop, and tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "picture/Frame.hpp"
#include "vnc/rfb/Address.hpp"

struct _rfbClient;

namespace ckpt::vnc {

class RfbConnection {
 public:
  // Connects, authenticates (VNC password when the server asks for one) and
  // asks for a whole frame, all within `handshake`. Throws Error naming the
  // address and what failed. Afterwards a message must not stall longer
  // than `stall` once it has begun.
  RfbConnection(const Address& address, const std::string& password,
                std::chrono::seconds handshake = std::chrono::seconds(5),
                std::chrono::seconds stall = std::chrono::seconds(10));
  ~RfbConnection();
  RfbConnection(const RfbConnection&) = delete;
  RfbConnection& operator=(const RfbConnection&) = delete;

  int fd() const;
  const Address& address() const { return address_; }
  int width() const;
  int height() const;
  // The pixels as libvncclient keeps them: 4 bytes each, 0x00RRGGBB in host order.
  const uint32_t* pixels() const { return fb_.data(); }
  picture::Frame frame() const;

  // Handles every whole message that has arrived (blocks until the first is
  // in). False when the connection has dropped.
  bool handleMessages();

  bool sendKey(uint32_t keysym, bool down);
  bool sendPointer(int x, int y, int buttons);
  bool requestFullFrame();

  // Waits (poll on the socket, bounded) until a whole frame has come in
  // since the last call: every pixel covered by updates. False on timeout
  // or a dropped connection.
  bool waitFullFrame(std::chrono::milliseconds timeout);

  // Called for each rectangle of an update, after its pixels are in.
  std::function<void(int x, int y, int w, int h)> onRect;
  // Called once a whole update message is in.
  std::function<void()> onUpdateDone;
  // Called when the frame size is set (at connect, or when the server resizes).
  std::function<void(int w, int h)> onResize;

 private:
  static int8_t allocFrame(_rfbClient* c);  // rfbBool
  static void gotRect(_rfbClient* c, int x, int y, int w, int h);
  static void updateDone(_rfbClient* c);
  static char* password(_rfbClient* c);
  static RfbConnection& of(_rfbClient* c);

  Address address_;
  std::string password_;
  _rfbClient* c_ = nullptr;
  std::vector<uint32_t> fb_;
  std::vector<uint8_t> covered_;  // per pixel, since the last waitFullFrame
  size_t coveredCount_ = 0;
  bool updateEnded_ = false;
};

}  // namespace ckpt::vnc
