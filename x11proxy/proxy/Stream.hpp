// Bytes in flight one way through the proxy: read in, parsed up to whole
// messages (which may be rewritten in place, shortened or dropped), written out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace ckpt::x11 {

class Stream {
 public:
  Stream();
  // Reads what fd has, or at most `most` bytes of it (nonblocking); false on
  // end of file or error.
  bool fill(int fd, std::size_t most = SIZE_MAX);
  // How many bytes the last fill() read.
  std::size_t lastFill() const { return lastFill_; }
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
  // Removes `n` bytes at `offset` from the start of the unparsed bytes (a
  // message the proxy keeps, or the tail of one it shortened).
  void erase(std::size_t offset, std::size_t n);
  // Puts a whole message of the proxy's own after those parsed so far.
  void insertParsed(std::span<const std::uint8_t> message);
  // Forgets what was read but not parsed (a connection being left).
  void dropUnparsed() { end_ = parsed_; }

 private:
  static constexpr std::size_t kChunk = 1024 * 1024, kHighWater = 8 * 1024 * 1024;
  std::vector<std::uint8_t> buf_;
  std::size_t begin_ = 0, parsed_ = 0, end_ = 0, lastFill_ = 0;
};

}  // namespace ckpt::x11
