// ckpt's end of one hook connection: connect to an abstract SOCK_SEQPACKET
// socket, send a message, receive one, each bounded by a deadline. The
// socket is owned (UniqueFd) and closed on every path.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::hooks {

using Clock = std::chrono::steady_clock;

// A hook that did not answer in time: the caller says which and how long.
class HookTimeout : public Error {
 public:
  using Error::Error;
};

class HookClient {
 public:
  // Connects to the abstract name (without its leading NUL, e.g.
  // "ckpt-hook:x"), retrying while the listener's backlog is full. Throws
  // Error (with a short reason; the caller names the hook) on failure or at
  // the deadline.
  static HookClient connect(const std::string& name, Clock::time_point deadline);

  // One message. Throws Error if it cannot be sent before the deadline.
  void send(const std::string& message, Clock::time_point deadline);
  // One message. Throws Error when the deadline passes ("no answer within
  // ..."), the peer closes, or the message is too long.
  std::string receive(Clock::time_point deadline);

  // The process that made the listener (SO_PEERCRED), or 0.
  pid_t peerPid() const { return peerPid_; }

 private:
  explicit HookClient(UniqueFd fd) : fd_(std::move(fd)) {}

  UniqueFd fd_;
  pid_t peerPid_ = 0;
};

// "3 s" or "0.5 s", for messages.
std::string describeTimeout(std::chrono::milliseconds timeout);

}  // namespace ckpt::hooks
