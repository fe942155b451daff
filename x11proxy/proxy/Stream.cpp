// One direction's buffer (see Stream.hpp).
#include "x11proxy/proxy/Stream.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace ckpt::x11 {

Stream::Stream() : buf_(kChunk) {}

bool Stream::fill(int fd, std::size_t most) {
  lastFill_ = 0;
  // Everything the socket holds, in as few reads as the buffer allows: each
  // return to poll() costs more than the copy (bulk drawing moves megabytes).
  for (;;) {
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
    std::size_t room = std::min(buf_.size() - end_, most - lastFill_);
    ssize_t n = ::read(fd, buf_.data() + end_, room);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    end_ += std::size_t(n);
    lastFill_ += std::size_t(n);
    // A short read drained the socket; a full one may have left more.
    if (std::size_t(n) < room || full() || lastFill_ == most) return true;
  }
}

bool Stream::flush(int fd) {
  while (begin_ < parsed_) {
    ssize_t n = ::write(fd, buf_.data() + begin_, parsed_ - begin_);
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    begin_ += std::size_t(n);
  }
  return true;
}

void Stream::erase(std::size_t offset, std::size_t n) {
  std::size_t at = parsed_ + offset;
  std::memmove(buf_.data() + at, buf_.data() + at + n, end_ - at - n);
  end_ -= n;
}

void Stream::insertParsed(std::span<const std::uint8_t> m) {
  if (buf_.size() - end_ < m.size()) buf_.resize(end_ + m.size() + kChunk);
  std::memmove(buf_.data() + parsed_ + m.size(), buf_.data() + parsed_, end_ - parsed_);
  std::memcpy(buf_.data() + parsed_, m.data(), m.size());
  parsed_ += m.size();
  end_ += m.size();
}

}  // namespace ckpt::x11
