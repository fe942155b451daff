// Splicing a request body from the client to the server (see BodyPassthrough.hpp).
#include "x11proxy/proxy/BodyPassthrough.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/util/Log.hpp"

namespace ckpt::x11 {
namespace {

// Large enough for a whole 256x256 image at 32 bits per pixel plus what the
// socket adds, so the client seldom waits for the server to take a part.
constexpr int kPipeBytes = 1024 * 1024;

}  // namespace

bool BodyPassthrough::openPipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    log::debug("x11: no pipe for passing image data through ({}): copying it",
               std::strerror(errno));
    return false;
  }
  read_.reset(fds[0]);
  write_.reset(fds[1]);
  // A larger pipe than /proc/sys/fs/pipe-max-size allows is refused: keep
  // the default then.
  (void)::fcntl(write_.get(), F_SETPIPE_SZ, kPipeBytes);
  int size = ::fcntl(write_.get(), F_GETPIPE_SZ);
  capacity_ = size > 0 ? std::size_t(size) : 65536;
  return true;
}

bool BodyPassthrough::start(std::size_t bytes) {
  if (!write_ && !openPipe()) return false;
  remaining_ = bytes;
  pipeFull_ = false;
  return true;
}

BodyPassthrough::Result BodyPassthrough::pump(int client, int server) {
  constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  for (;;) {
    bool moved = false;
    if (wantsRead()) {
      std::size_t room = capacity_ > inPipe_ ? capacity_ - inPipe_ : 0;
      ssize_t n = ::splice(client, nullptr, write_.get(), nullptr, std::min(remaining_, room),
                           kFlags | SPLICE_F_MORE);
      if (n == 0) return Result::kClientGone;
      if (n > 0) {
        remaining_ -= std::size_t(n);
        inPipe_ += std::size_t(n);
        moved = true;
      } else if (errno == EAGAIN) {
        // With bytes in the pipe, the pipe may be out of slots (a slot holds
        // a page or part of one): wait for the server to take some.
        pipeFull_ = inPipe_ > 0;
      } else if (errno != EINTR) {
        return Result::kClientGone;
      }
    }
    if (inPipe_ > 0 && server >= 0) {
      ssize_t n = ::splice(read_.get(), nullptr, server, nullptr, inPipe_,
                           kFlags | (remaining_ > 0 ? SPLICE_F_MORE : 0));
      if (n > 0) {
        inPipe_ -= std::size_t(n);
        pipeFull_ = false;
        moved = true;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        return Result::kServerGone;
      }
    }
    if (!active()) return Result::kDone;
    if (!moved) return Result::kMore;
  }
}

}  // namespace ckpt::x11
