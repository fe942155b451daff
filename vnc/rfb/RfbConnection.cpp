#include "vnc/rfb/RfbConnection.hpp"

#include <poll.h>
#include <rfb/rfbclient.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "vnc/rfb/LibraryLog.hpp"

namespace ckpt::vnc {
namespace {

// libvncclient logs through two global function pointers; its last error
// is what a failed connect reports.
thread_local std::string lastError;

void clientLog(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  std::string line = formatLibraryLine(format, ap);
  va_end(ap);
  log::debug("libvncclient: {}", line);
}

void clientErr(const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  lastError = formatLibraryLine(format, ap);
  va_end(ap);
  log::debug("libvncclient: {}", lastError);
}

int tag;  // the address of this names our data in each rfbClient

}  // namespace

RfbConnection& RfbConnection::of(rfbClient* c) {
  return *static_cast<RfbConnection*>(rfbClientGetClientData(c, &tag));
}

rfbBool RfbConnection::allocFrame(rfbClient* c) {
  auto& self = of(c);
  self.fb_.assign(size_t(c->width) * size_t(c->height), 0);
  self.covered_.assign(self.fb_.size(), 0);
  self.coveredCount_ = 0;
  c->frameBuffer = reinterpret_cast<uint8_t*>(self.fb_.data());
  if (self.onResize) self.onResize(c->width, c->height);
  return TRUE;
}

void RfbConnection::gotRect(rfbClient* c, int x, int y, int w, int h) {
  auto& self = of(c);
  for (int row = y; row < y + h && row < c->height; ++row)
    for (int col = x; col < x + w && col < c->width; ++col) {
      uint8_t& cov = self.covered_[size_t(row) * size_t(c->width) + size_t(col)];
      if (!cov) {
        cov = 1;
        ++self.coveredCount_;
      }
    }
  if (self.onRect) self.onRect(x, y, w, h);
}

void RfbConnection::updateDone(rfbClient* c) {
  auto& self = of(c);
  self.updateEnded_ = true;
  if (self.onUpdateDone) self.onUpdateDone();
}

char* RfbConnection::password(rfbClient* c) {
  // libvncclient frees what this returns.
  return strdup(of(c).password_.c_str());
}

RfbConnection::RfbConnection(const Address& address, const std::string& pw,
                             std::chrono::seconds handshake, std::chrono::seconds stall)
    : address_(address), password_(pw) {
  rfbClientLog = clientLog;
  rfbClientErr = clientErr;
  rfbClient* c = rfbGetClient(8, 3, 4);
  if (!c) throw Error(fmt::format("VNC {}: out of memory", address.describe()));
  // 0x00RRGGBB: the same layout the gateway serves to its viewers.
  c->format.redShift = 16;
  c->format.greenShift = 8;
  c->format.blueShift = 0;
  c->format.redMax = c->format.greenMax = c->format.blueMax = 255;
  c->MallocFrameBuffer = allocFrame;
  c->GotFrameBufferUpdate = gotRect;
  c->FinishedFrameBufferUpdate = updateDone;
  c->GetPassword = password;
  c->canHandleNewFBSize = TRUE;
  c->connectTimeout = unsigned(handshake.count());
  c->readTimeout = unsigned(handshake.count());
  c->appData.shareDesktop = TRUE;
  // The server draws the cursor into the picture (no cursor pseudo-encoding):
  // snapshots then show what a person sees. Lossless encodings only: the
  // tests compare pixels. Raw over a unix socket costs less than compressing.
  c->appData.useRemoteCursor = FALSE;
  c->appData.encodingsString =
      address.unixPath.empty() ? "copyrect zrle hextile raw" : "copyrect raw";
  c->appData.enableJPEG = FALSE;
  rfbClientSetClientData(c, &tag, this);
  if (address.unixPath.empty()) {
    c->serverHost = strdup(address.host.c_str());
    c->serverPort = address.port;
  } else {
    c->serverHost = strdup(address.unixPath.c_str());
    c->serverPort = 0;
  }
  lastError.clear();
  // rfbInitClient frees the client itself when it fails.
  if (!rfbInitClient(c, nullptr, nullptr)) {
    throw Error(fmt::format("VNC {}: cannot connect: {}", address.describe(),
                            lastError.empty() ? std::string("no answer") : lastError));
  }
  c->readTimeout = unsigned(stall.count());
  c_ = c;
}

RfbConnection::~RfbConnection() {
  if (c_) rfbClientCleanup(c_);  // closes the socket; fb_ is ours
}

int RfbConnection::fd() const {
  return c_->sock;
}
int RfbConnection::width() const {
  return c_->width;
}
int RfbConnection::height() const {
  return c_->height;
}

picture::Frame RfbConnection::frame() const {
  picture::Frame f;
  f.width = c_->width;
  f.height = c_->height;
  f.rgb.resize(fb_.size() * 3);
  for (size_t i = 0; i < fb_.size(); ++i) {
    f.rgb[i * 3] = uint8_t(fb_[i] >> 16);
    f.rgb[i * 3 + 1] = uint8_t(fb_[i] >> 8);
    f.rgb[i * 3 + 2] = uint8_t(fb_[i]);
  }
  return f;
}

bool RfbConnection::handleMessages() {
  do {
    if (!HandleRFBServerMessage(c_)) return false;
  } while (c_->buffered > 0);
  return true;
}

bool RfbConnection::sendKey(uint32_t keysym, bool down) {
  return SendKeyEvent(c_, keysym, down ? TRUE : FALSE);
}

bool RfbConnection::sendPointer(int x, int y, int buttons) {
  return SendPointerEvent(c_, x, y, buttons);
}

bool RfbConnection::requestFullFrame() {
  return SendFramebufferUpdateRequest(c_, 0, 0, c_->width, c_->height, FALSE);
}

bool RfbConnection::waitFullFrame(std::chrono::milliseconds timeout) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (updateEnded_ && coveredCount_ == covered_.size() && !covered_.empty()) {
      std::fill(covered_.begin(), covered_.end(), 0);
      coveredCount_ = 0;
      updateEnded_ = false;
      return true;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd(), POLLIN, 0};
    int n = c_->buffered > 0 ? 1 : ::poll(&p, 1, int(left.count()));
    if (n < 0 && errno != EINTR) return false;
    if (n > 0 && !handleMessages()) return false;
  }
}

}  // namespace ckpt::vnc
