// One client connection through the proxy (see Session.hpp).
#include "x11proxy/proxy/Session.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/util/Log.hpp"
#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {

Stream::Stream() : buf_(kChunk) {}

bool Stream::fill(int fd) {
  if (begin_ > 0 && begin_ == end_) begin_ = parsed_ = end_ = 0;
  if (buf_.size() - end_ < kChunk / 4) {
    if (begin_ >= buf_.size() / 2) {  // compact: the written head is dead space
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      parsed_ -= begin_;
      end_ -= begin_;
      begin_ = 0;
    } else {
      buf_.resize(buf_.size() * 2);
    }
  }
  ssize_t n = ::read(fd, buf_.data() + end_, buf_.size() - end_);
  if (n > 0) {
    end_ += std::size_t(n);
    return true;
  }
  return n < 0 && (errno == EAGAIN || errno == EINTR);
}

bool Stream::flush(int fd) {
  while (begin_ < parsed_) {
    ssize_t n = ::write(fd, buf_.data() + begin_, parsed_ - begin_);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    begin_ += std::size_t(n);
  }
  return true;
}

namespace {

// Large socket buffers: bulk drawing (PutImage) then crosses the proxy in a
// few large reads and writes instead of many small ones.
void widenBuffers(int fd) {
  int size = 4 * 1024 * 1024;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

}  // namespace

Session::Session(UniqueFd client, std::string cookie)
    : client_(std::move(client)), cookie_(std::move(cookie)) {
  ::fcntl(client_.get(), F_SETFL, ::fcntl(client_.get(), F_GETFL) | O_NONBLOCK);
  widenBuffers(client_.get());
}

short Session::clientEvents() const {
  short ev = 0;
  if (!clientEof_ && !toServer_.full() && !refused_) ev |= POLLIN;
  if (toClient_.pendingWrite()) ev |= POLLOUT;
  return ev;
}

short Session::serverEvents() const {
  short ev = 0;
  if (!serverEof_ && !toClient_.full()) ev |= POLLIN;
  if (toServer_.pendingWrite()) ev |= POLLOUT;
  return ev;
}

bool Session::finished() const {
  // A side that has gone ends the session once what it sent has been passed on.
  if (clientEof_ && !toServer_.pendingWrite()) return true;
  if (serverEof_ && !toClient_.pendingWrite()) return true;
  return false;
}

bool Session::onClient(short revents) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!toServer_.fill(client_.get())) clientEof_ = true;
    if (!setupDone_ && !handshake()) return !finished() && !refused_;
    if (setupDone_) parseRequests();
  }
  if (revents & POLLOUT) {
    if (!toClient_.flush(client_.get())) clientEof_ = true;
    if (refused_ && !toClient_.pendingWrite()) return false;
  }
  if (upstream_ && !toServer_.flush(serverFd())) serverEof_ = true;
  return !finished();
}

bool Session::onServer(short revents) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!toClient_.fill(serverFd())) serverEof_ = true;
    parseServer();
  }
  if ((revents & POLLOUT) && !toServer_.flush(serverFd())) serverEof_ = true;
  if (!toClient_.flush(client_.get())) clientEof_ = true;
  return !finished();
}

void Session::refuse(const std::string& reason) {
  // A connection-refused setup reply: status 0 (Failed), the reason's length,
  // the protocol version, the reason padded to 4 bytes.
  std::size_t padded = (reason.size() + 3) & ~std::size_t(3);
  std::vector<std::uint8_t> reply(8 + padded, 0);
  reply[1] = std::uint8_t(reason.size());
  put16(&reply[2], 11);
  put16(&reply[4], 0);
  put16(&reply[6], std::uint16_t(padded / 4));
  std::memcpy(&reply[8], reason.data(), reason.size());
  (void)!::write(client_.get(), reply.data(), reply.size());
  log::info("x11: refused a client: {}", reason);
  refused_ = true;
  clientEof_ = true;
}

bool Session::handshake() {
  if (toServer_.unparsedSize() < 12) return false;
  const std::uint8_t* p = toServer_.unparsed();
  std::size_t size = setupRequestSize(p);
  if (toServer_.unparsedSize() < size) return false;
  if (p[0] != 'l') {
    refuse("ckpt x11 proxy: big-endian clients are not supported");
    return false;
  }
  std::uint16_t nameLen = get16(p + 6), dataLen = get16(p + 8);
  std::string name(reinterpret_cast<const char*>(p + 12), nameLen);
  std::string data(reinterpret_cast<const char*>(p + 12 + ((nameLen + 3) & ~3)), dataLen);
  if (name != "MIT-MAGIC-COOKIE-1" || data != cookie_) {
    refuse("Authorization required, but no authorization protocol specified");
    return false;
  }
  toServer_.markParsed(size);
  toServer_.skipParsed(size);  // the server gets the user's own credentials, from libxcb
  upstream_.reset(xcb_connect(nullptr, nullptr));
  if (xcb_connection_has_error(upstream_.get())) {
    upstream_.reset();
    refuse("ckpt x11 proxy: cannot connect to the X server");
    return false;
  }
  widenBuffers(serverFd());
  // The server's setup reply, as libxcb received it, goes to the client as is.
  const xcb_setup_t* setup = xcb_get_setup(upstream_.get());
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(setup);
  std::size_t len = 8 + std::size_t(setup->length) * 4;
  std::size_t at = 0;
  while (at < len) {
    ssize_t n = ::write(client_.get(), bytes + at, len - at);
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{client_.get(), POLLOUT, 0};
      ::poll(&pfd, 1, 1000);
      continue;
    }
    if (n <= 0) {
      clientEof_ = true;
      return false;
    }
    at += std::size_t(n);
  }
  setupDone_ = true;
  return true;
}

namespace {

// Shows each whole message of the stream to `handle`, in order.
template <typename SizeOf, typename Handle>
void eachWholeMessage(Stream& s, SizeOf sizeOf, Handle handle) {
  for (;;) {
    std::size_t size = sizeOf(s.unparsed(), s.unparsedSize());
    if (size == 0 || size > s.unparsedSize()) return;
    handle(std::span<const std::uint8_t>(s.unparsed(), size));
    s.markParsed(size);
  }
}

}  // namespace

void Session::parseRequests() {
  eachWholeMessage(toServer_, requestSize, [&](auto m) { tracker_.clientRequest(m); });
}

void Session::parseServer() {
  eachWholeMessage(toClient_, serverMessageSize, [&](auto m) { tracker_.serverMessage(m); });
}

}  // namespace ckpt::x11
