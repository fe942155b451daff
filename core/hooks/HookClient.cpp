// One hook connection, non-blocking underneath, with poll() for the deadlines.
#include "core/hooks/HookClient.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt::hooks {
namespace {

constexpr size_t kMaxMessage = 64 * 1024;

int msLeft(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : int(std::min<long long>(left, 1 << 30));
}

// Waits until fd is ready for `events`; false at the deadline.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int r = ::poll(&p, 1, msLeft(deadline));
    if (r > 0) return true;
    if (r == 0) return false;
    if (errno != EINTR) throwErrno("poll");
  }
}

}  // namespace

std::string describeTimeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return fmt::format("{} s", timeout.count() / 1000);
  return fmt::format("{:.3g} s", double(timeout.count()) / 1000);
}

HookClient HookClient::connect(const std::string& name, Clock::time_point deadline) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof sa.sun_path) throw Error("its name is too long");
  std::memcpy(sa.sun_path + 1, name.data(), name.size());
  // Abstract names count every byte given: no trailing NUL (PROTOCOL.md).
  auto len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) throwErrno("socket(AF_UNIX, SOCK_SEQPACKET)");
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), len) == 0) break;
    // A full backlog says EAGAIN on a non-blocking unix socket: try again.
    if (errno != EAGAIN && errno != EINTR) throwErrno("connecting to it");
    if (Clock::now() >= deadline) throw Error("its listener's backlog stayed full");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
  HookClient c(std::move(fd));
  ucred cred{};
  socklen_t clen = sizeof cred;
  if (::getsockopt(c.fd_.get(), SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) c.peerPid_ = cred.pid;
  return c;
}

void HookClient::send(const std::string& message, Clock::time_point deadline) {
  for (;;) {
    if (::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throwErrno("sending to it");
    if (!waitFor(fd_.get(), POLLOUT, deadline)) throw Error("it does not read its messages");
  }
}

std::string HookClient::receive(Clock::time_point deadline) {
  std::string buf(kMaxMessage + 1, '\0');
  for (;;) {
    ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), MSG_TRUNC | MSG_DONTWAIT);
    if (n > 0) {
      if (size_t(n) > kMaxMessage) throw Error(fmt::format("its reply is too long ({} bytes)", n));
      buf.resize(size_t(n));
      return buf;
    }
    if (n == 0) throw Error("it closed the connection without answering");
    if (errno == EINTR) continue;
    if (errno != EAGAIN) throwErrno("reading its reply");
    if (!waitFor(fd_.get(), POLLIN, deadline)) throw HookTimeout("no answer in time");
  }
}

}  // namespace ckpt::hooks
