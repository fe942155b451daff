// One client connection through the proxy: the connection setup (cookie
// check, upstream connection with the user's credentials), then forwarding in
// both directions at message boundaries, each message shown to the Tracker.
#pragma once

#include <xcb/xcb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"
#include "x11proxy/proto/Tracker.hpp"

namespace ckpt::x11 {

// Bytes in flight one way: read in, parsed up to whole messages, written out.
class Stream {
 public:
  Stream();
  // Reads what fd has (nonblocking); false on end of file or error.
  bool fill(int fd);
  // Writes the whole messages parsed so far; false on a write error.
  bool flush(int fd);
  std::uint8_t* unparsed() { return buf_.data() + parsed_; }
  std::size_t unparsedSize() const { return end_ - parsed_; }
  void markParsed(std::size_t n) { parsed_ += n; }
  bool pendingWrite() const { return begin_ < parsed_; }
  // Whole messages waiting to be written: stop reading more until they drain
  // (an incomplete message is always read on, or it could never complete).
  bool full() const { return parsed_ - begin_ >= kHighWater; }
  void skipParsed(std::size_t n) { begin_ += n; }  // drop bytes that must not be forwarded
  bool empty() const { return begin_ == end_; }

 private:
  static constexpr std::size_t kChunk = 1024 * 1024, kHighWater = 8 * 1024 * 1024;
  std::vector<std::uint8_t> buf_;
  std::size_t begin_ = 0, parsed_ = 0, end_ = 0;
};

struct XcbDisconnect {
  void operator()(xcb_connection_t* c) const { xcb_disconnect(c); }
};

class Session {
 public:
  Session(UniqueFd client, std::string cookie);
  int clientFd() const { return client_.get(); }
  int serverFd() const { return upstream_ ? xcb_get_file_descriptor(upstream_.get()) : -1; }
  short clientEvents() const;
  short serverEvents() const;
  // Handle readiness; false once the session is over.
  bool onClient(short revents);
  bool onServer(short revents);
  const Tracker& tracker() const { return tracker_; }

 private:
  bool handshake();
  void refuse(const std::string& reason);
  void parseRequests();
  void parseServer();
  bool finished() const;

  UniqueFd client_;
  std::string cookie_;
  std::unique_ptr<xcb_connection_t, XcbDisconnect> upstream_;
  Stream toServer_, toClient_;
  bool setupDone_ = false, clientEof_ = false, serverEof_ = false, refused_ = false;
  Tracker tracker_;
};

}  // namespace ckpt::x11
