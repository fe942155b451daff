// The body of a large PutImage crossing the proxy without being copied
// through it: splice(2) from the client's socket into a pipe and from the
// pipe into the server's socket moves page references, not bytes. The
// proxy has parsed and translated the request's header (the only part with
// ids in it) and sent it ahead; the pixels need nothing from it.
//
// Two copies fewer per byte is what makes bulk drawing through the proxy
// cost about what it costs directly: the proxy would otherwise read every
// byte in and write it out again, on the same CPUs the client and the
// server need.
#pragma once

#include <cstddef>

#include "core/util/UniqueFd.hpp"

namespace ckpt::x11 {

class BodyPassthrough {
 public:
  // Bodies smaller than this are read like any other bytes: two splices and
  // a pipe cost more than copying a few pages.
  static constexpr std::size_t kMinBody = 64 * 1024;

  // Starts passing `bytes` from the client through; false when no pipe can
  // be had (the bytes then go the ordinary way).
  bool start(std::size_t bytes);
  // Bytes still to come from the client, or waiting in the pipe.
  bool active() const { return remaining_ > 0 || inPipe_ > 0; }
  bool wantsRead() const { return remaining_ > 0 && !pipeFull_; }
  bool wantsWrite() const { return inPipe_ > 0; }

  enum class Result { kMore, kDone, kClientGone, kServerGone };
  // Moves what can move now without blocking: from `client` into the pipe,
  // from the pipe into `server` (-1: the server must not get them yet).
  Result pump(int client, int server);

 private:
  bool openPipe();

  UniqueFd read_, write_;
  std::size_t capacity_ = 0, remaining_ = 0, inPipe_ = 0;
  bool pipeFull_ = false;
};

}  // namespace ckpt::x11
