#include "vnc/gateway/ViewerServer.hpp"

#include <arpa/inet.h>
#include <rfb/rfb.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "vnc/rfb/LibraryLog.hpp"

namespace ckpt::vnc {
namespace {

void serverLog(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  std::string line = formatLibraryLine(format, ap);
  va_end(ap);
  log::debug("libvncserver: {}", line);
}

ViewerServer& of(rfbClientPtr cl) {
  return *static_cast<ViewerServer*>(cl->screen->screenData);
}

}  // namespace

void ViewerServer::key(int8_t down, uint32_t keysym, rfbClientPtr cl) {
  of(cl).onKey_(keysym, down != 0);
}

void ViewerServer::pointer(int buttons, int x, int y, rfbClientPtr cl) {
  of(cl).onPointer_(x, y, buttons);
}

ViewerServer::ViewerServer(const ViewerServerOptions& opts,
                           std::function<void(uint32_t, bool)> onKey,
                           std::function<void(int, int, int)> onPointer)
    : name_(opts.name), onKey_(std::move(onKey)), onPointer_(std::move(onPointer)) {
  rfbLog = serverLog;
  rfbErr = serverLog;
  int argc = 0;
  screen_ = rfbGetScreen(&argc, nullptr, opts.width, opts.height, 8, 3, 4);
  if (!screen_) throw Error("vnc run: cannot create the viewers' server (out of memory)");
  // 0x00RRGGBB, as the gateway's link to the desktop receives it.
  screen_->serverFormat.redShift = 16;
  screen_->serverFormat.greenShift = 8;
  screen_->serverFormat.blueShift = 0;
  fb_.assign(size_t(opts.width) * size_t(opts.height), 0);
  screen_->frameBuffer = reinterpret_cast<char*>(fb_.data());
  screen_->desktopName = name_.c_str();
  screen_->screenData = this;
  screen_->kbdAddEvent = key;
  screen_->ptrAddEvent = pointer;
  screen_->alwaysShared = TRUE;
  // The desktop's picture already holds Xvnc's cursor: none of libvncserver's own.
  screen_->cursor = nullptr;
  screen_->autoPort = FALSE;
  screen_->port = opts.port;
  screen_->ipv6port = opts.port;
  if (opts.password.empty()) {
    screen_->listenInterface = htonl(INADDR_LOOPBACK);
    listen6_ = "::1";
    screen_->listen6Interface = listen6_.data();
  } else {
    password_.assign(opts.password.begin(), opts.password.end());
    password_.push_back('\0');
    passwords_ = {password_.data(), nullptr};
    screen_->authPasswdData = passwords_.data();
    screen_->passwordCheck = rfbCheckPasswordByList;
  }
  rfbInitServer(screen_);
  if (screen_->listenSock == RFB_INVALID_SOCKET) {
    rfbScreenCleanup(screen_);
    throw Error(
        fmt::format("vnc run: cannot listen for viewers on port {} (taken? give another --rfbport)",
                    opts.port));
  }
  // Viewers are served by libvncserver's own threads.
  rfbRunEventLoop(screen_, -1, TRUE);
}

ViewerServer::~ViewerServer() {
  rfbShutdownServer(screen_, TRUE);
  rfbScreenCleanup(screen_);
}

void ViewerServer::resize(int width, int height) {
  if (width == screen_->width && height == screen_->height) return;
  std::vector<uint32_t> fresh(size_t(width) * size_t(height), 0);
  rfbNewFramebuffer(screen_, reinterpret_cast<char*>(fresh.data()), width, height, 8, 3, 4);
  screen_->serverFormat.redShift = 16;
  screen_->serverFormat.greenShift = 8;
  screen_->serverFormat.blueShift = 0;
  fb_.swap(fresh);
}

void ViewerServer::update(const uint32_t* src, int stride, int x, int y, int w, int h) {
  const int W = screen_->width, H = screen_->height;
  if (x < 0 || y < 0 || w <= 0 || h <= 0 || x >= W || y >= H) return;
  w = std::min(w, W - x);
  h = std::min(h, H - y);
  for (int row = y; row < y + h; ++row)
    std::memcpy(&fb_[size_t(row) * size_t(W) + size_t(x)], src + size_t(row) * size_t(stride) + x,
                size_t(w) * 4);
  rfbMarkRectAsModified(screen_, x, y, x + w, y + h);
}

void ViewerServer::sendAll() {
  rfbMarkRectAsModified(screen_, 0, 0, screen_->width, screen_->height);
}

}  // namespace ckpt::vnc
