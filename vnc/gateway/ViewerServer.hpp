// The gateway's side towards viewers: an RFB server (libvncserver) on the
// public port, serving a copy of the desktop's frame. Its threads (one for
// listening, one per viewer) call onKey / onPointer; everything else is
// called from the gateway's main thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

struct _rfbScreenInfo;
struct _rfbClientRec;

namespace ckpt::vnc {

struct ViewerServerOptions {
  int port = 5900;
  // Without a password, viewers come from this machine only (127.0.0.1, ::1).
  std::string password;
  int width = 1024;
  int height = 768;
  std::string name = "ckpt";
};

class ViewerServer {
 public:
  // Throws Error naming the port when it cannot listen.
  ViewerServer(const ViewerServerOptions& opts,
               std::function<void(uint32_t keysym, bool down)> onKey,
               std::function<void(int x, int y, int buttons)> onPointer);
  ~ViewerServer();  // disconnects every viewer, stops the threads
  ViewerServer(const ViewerServer&) = delete;
  ViewerServer& operator=(const ViewerServer&) = delete;

  // A new frame size (the desktop's); the picture is black until updated.
  void resize(int width, int height);
  // Copies a rectangle of the desktop's frame (0x00RRGGBB pixels, `stride`
  // pixels per row) and sends it to the viewers.
  void update(const uint32_t* src, int stride, int x, int y, int w, int h);
  // Sends the whole frame to every viewer again (after the desktop is back).
  void sendAll();

 private:
  static void key(int8_t down, uint32_t keysym, _rfbClientRec* cl);
  static void pointer(int buttons, int x, int y, _rfbClientRec* cl);

  _rfbScreenInfo* screen_ = nullptr;
  std::vector<uint32_t> fb_;
  std::vector<char> password_;
  std::vector<char*> passwords_;  // the NULL-terminated list libvncserver checks
  std::string name_;
  std::string listen6_;
  std::function<void(uint32_t, bool)> onKey_;
  std::function<void(int, int, int)> onPointer_;
};

}  // namespace ckpt::vnc
