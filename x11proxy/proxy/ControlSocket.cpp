// The proxy's control socket (see ControlSocket.hpp).
#include "x11proxy/proxy/ControlSocket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#include "core/util/Error.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::size_t kMaxMessage = 64 * 1024;

socklen_t abstractAddress(const std::string& name, sockaddr_un& addr) {
  addr = {};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  return socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
}

}  // namespace

std::string controlSocketName(pid_t proxy) {
  return "ckpt-x11:" + std::to_string(proxy);
}

ControlSocket::ControlSocket()
    : listener_(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) {
  if (!listener_) throwErrno("socket for the x11 control socket");
  sockaddr_un addr;
  std::string name = controlSocketName(::getpid());
  socklen_t len = abstractAddress(name, addr);
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throwErrno("bind @" + name);
  if (::listen(listener_.get(), 4) != 0) throwErrno("listen @" + name);
}

nlohmann::json ControlSocket::accept(UniqueFd& conn) {
  conn = UniqueFd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return {};
  ucred cred{};
  socklen_t clen = sizeof cred;
  if (::getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
      (cred.uid != ::getuid() && cred.uid != 0)) {
    conn = UniqueFd();
    return {};
  }
  // The request follows the connection at once; do not let a silent peer stall the proxy.
  pollfd pfd{conn.get(), POLLIN, 0};
  if (::poll(&pfd, 1, 2000) <= 0) return {};
  std::string buf(kMaxMessage, '\0');
  ssize_t n = ::recv(conn.get(), buf.data(), buf.size(), 0);
  if (n <= 0) return {};
  buf.resize(std::size_t(n));
  return nlohmann::json::parse(buf, nullptr, false);
}

void ControlSocket::reply(const UniqueFd& conn, const nlohmann::json& answer) {
  std::string s = answer.dump();
  (void)!::send(conn.get(), s.data(), s.size(), MSG_NOSIGNAL);
}

nlohmann::json askProxy(pid_t pid, const nlohmann::json& request, int timeoutMs) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throwErrno("socket");
  sockaddr_un addr;
  std::string name = controlSocketName(pid);
  socklen_t len = abstractAddress(name, addr);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0)
    throw Error("pid " + std::to_string(pid) +
                " is not a running `ckpt x11 run` proxy (no control socket @" + name +
                "): give the pid that `ckpt x11 run --pidfile` wrote");
  std::string s = request.dump();
  if (::send(fd.get(), s.data(), s.size(), MSG_NOSIGNAL) < 0) throwErrno("send to @" + name);
  pollfd pfd{fd.get(), POLLIN, 0};
  int ready = ::poll(&pfd, 1, timeoutMs);
  if (ready == 0)
    throw Error("the proxy pid " + std::to_string(pid) + " did not answer within " +
                std::to_string(timeoutMs / 1000) + " s");
  std::string buf(kMaxMessage, '\0');
  ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  if (n <= 0) throw Error("the proxy pid " + std::to_string(pid) + " closed its control socket");
  buf.resize(std::size_t(n));
  auto answer = nlohmann::json::parse(buf, nullptr, false);
  if (answer.is_discarded())
    throw Error("the proxy pid " + std::to_string(pid) + " answered garbage");
  return answer;
}

}  // namespace ckpt::x11
