// zdtm: TCP and UDP sockets over IPv4 and IPv6 on loopback. An IPv4 TCP
// listener (ephemeral port, SO_REUSEADDR, TCP_NODELAY, SO_KEEPALIVE with
// TCP_KEEPIDLE, backlog 7, O_NONBLOCK), an IPv6 TCP listener on ::1
// (IPV6_V6ONLY, SO_REUSEPORT, TCP_DEFER_ACCEPT), a UDP socket bound on
// 127.0.0.1 (SO_BROADCAST, SO_RCVBUF) and a second UDP socket connected to
// it, and an established TCP connection with both ends here (accepted from
// the IPv4 listener) with unread data queued each way. After SIGUSR1: same names and options, each
// listener accepts a new connection and data flows both ways, the bound UDP socket receives a
// datagram from a new socket and from the connected one.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <linux/sockios.h>
#include <sys/ioctl.h>

#include "zdtm.hpp"

namespace {

struct Addr {
  sockaddr_storage sa{};
  socklen_t len = sizeof(sockaddr_storage);
  const sockaddr* raw() const { return reinterpret_cast<const sockaddr*>(&sa); }
  sockaddr* raw() { return reinterpret_cast<sockaddr*>(&sa); }
  bool operator==(const Addr& o) const { return len == o.len && memcmp(&sa, &o.sa, len) == 0; }
  std::string show() const {
    char buf[INET6_ADDRSTRLEN] = {};
    int port;
    if (sa.ss_family == AF_INET6) {
      auto* s6 = reinterpret_cast<const sockaddr_in6*>(&sa);
      inet_ntop(AF_INET6, &s6->sin6_addr, buf, sizeof buf);
      port = ntohs(s6->sin6_port);
    } else {
      auto* s4 = reinterpret_cast<const sockaddr_in*>(&sa);
      inet_ntop(AF_INET, &s4->sin_addr, buf, sizeof buf);
      port = ntohs(s4->sin_port);
    }
    return std::string(buf) + ":" + std::to_string(port);
  }
};

Addr loopback(int family) {
  Addr a;
  if (family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.sa);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    a.len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.sa);
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.len = sizeof *s4;
  }
  return a;
}

Addr nameOf(int fd, bool peer = false) {
  Addr a;
  int r = peer ? getpeername(fd, a.raw(), &a.len) : getsockname(fd, a.raw(), &a.len);
  if (r != 0) a.len = 0;
  return a;
}

int intOpt(int fd, int level, int opt) {
  int v = -1;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) != 0) return -1000 - errno;
  return v;
}

void setOpt(int fd, int level, int opt, int v) {
  if (setsockopt(fd, level, opt, &v, sizeof v) != 0) zdtm::die("setsockopt %d/%d", level, opt);
}

int listener(int family) {
  int fd = socket(family, SOCK_STREAM, 0);
  if (fd < 0) zdtm::die("socket");
  return fd;
}

void bindListen(int fd, int family, int backlog) {
  Addr a = loopback(family);
  if (bind(fd, a.raw(), a.len) != 0) zdtm::die("bind");
  if (listen(fd, backlog) != 0) zdtm::die("listen");
}

bool waitIn(int fd, int ms = 5000) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1;
}

// A new client to the listener: accepted, and a message each way.
void checkAccepts(int lfd, const char* what) {
  Addr a = nameOf(lfd);
  int c = socket(a.sa.ss_family, SOCK_STREAM, 0);
  if (!CHECK(c >= 0 && connect(c, a.raw(), a.len) == 0, "%s: connect to %s: %s", what,
             a.show().c_str(), strerror(errno)))
    return;
  // A deferred-accept listener waits for data before it shows the connection.
  CHECK(send(c, "hello", 5, 0) == 5, "%s: send", what);
  if (!CHECK(waitIn(lfd), "%s: no connection to accept", what)) return;
  int s = accept(lfd, nullptr, nullptr);
  if (!CHECK(s >= 0, "%s: accept: %s", what, strerror(errno))) return;
  char buf[8] = {};
  CHECK(waitIn(s) && recv(s, buf, sizeof buf, 0) == 5 && memcmp(buf, "hello", 5) == 0,
        "%s: the client's data did not arrive", what);
  CHECK(send(s, "world", 5, 0) == 5, "%s: send back", what);
  CHECK(waitIn(c) && recv(c, buf, sizeof buf, 0) == 5 && memcmp(buf, "world", 5) == 0,
        "%s: the server's data did not arrive", what);
  // The client closes first, so TIME_WAIT is the client's port, not the listener's.
  close(c);
  close(s);
}

bool receives(int fd, const char* want, const char* what) {
  char buf[32] = {};
  return CHECK(
      waitIn(fd) && recv(fd, buf, sizeof buf, 0) == ssize_t(strlen(want)) && strcmp(buf, want) == 0,
      "%s: did not receive '%s' (got '%s')", what, want, buf);
}

}  // namespace

int main() {
  int t4 = listener(AF_INET);
  setOpt(t4, SOL_SOCKET, SO_REUSEADDR, 1);
  setOpt(t4, IPPROTO_TCP, TCP_NODELAY, 1);
  setOpt(t4, SOL_SOCKET, SO_KEEPALIVE, 1);
  setOpt(t4, IPPROTO_TCP, TCP_KEEPIDLE, 77);
  bindListen(t4, AF_INET, 7);
  if (fcntl(t4, F_SETFL, O_NONBLOCK) != 0) zdtm::die("fcntl");

  int t6 = listener(AF_INET6);
  setOpt(t6, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  setOpt(t6, SOL_SOCKET, SO_REUSEPORT, 1);
  setOpt(t6, IPPROTO_TCP, TCP_DEFER_ACCEPT, 5);
  bindListen(t6, AF_INET6, 3);

  int u = socket(AF_INET, SOCK_DGRAM, 0);
  if (u < 0) zdtm::die("socket");
  setOpt(u, SOL_SOCKET, SO_BROADCAST, 1);
  setOpt(u, SOL_SOCKET, SO_RCVBUF, 40000);
  Addr ua = loopback(AF_INET);
  if (bind(u, ua.raw(), ua.len) != 0) zdtm::die("bind udp");
  ua = nameOf(u);
  int uc = socket(AF_INET, SOCK_DGRAM, 0);
  if (uc < 0 || connect(uc, ua.raw(), ua.len) != 0) zdtm::die("connect udp");

  // Both ends in the tree: TCP_REPAIR.
  int cc = socket(AF_INET, SOCK_STREAM, 0);
  Addr l4 = nameOf(t4);
  if (cc < 0 || connect(cc, l4.raw(), l4.len) != 0) zdtm::die("connect to the IPv4 listener");
  if (!waitIn(t4)) zdtm::die("no connection to accept");
  int sc = accept(t4, nullptr, nullptr);
  if (sc < 0) zdtm::die("accept");
  setOpt(cc, IPPROTO_TCP, TCP_NODELAY, 1);
  if (send(cc, "to-server", 9, 0) != 9 || send(sc, "to-client!", 10, 0) != 10) zdtm::die("send");
  // Both arrived and were acknowledged (nothing left in flight).
  for (int i = 0;; i++) {
    int inC = 0, inS = 0, outC = 1, outS = 1;
    ioctl(cc, SIOCINQ, &inC);
    ioctl(sc, SIOCINQ, &inS);
    ioctl(cc, SIOCOUTQ, &outC);
    ioctl(sc, SIOCOUTQ, &outS);
    if (inC == 10 && inS == 9 && outC == 0 && outS == 0) break;
    if (i > 30000) zdtm::die("the loopback connection never settled");
    usleep(1000);
  }
  const Addr ncc = nameOf(cc), nsc = nameOf(sc);

  const Addr n4 = nameOf(t4), n6 = nameOf(t6), nu = nameOf(u), nuc = nameOf(uc);
  const int ubuf = intOpt(u, SOL_SOCKET, SO_RCVBUF);
  const int deferAccept = intOpt(t6, IPPROTO_TCP, TCP_DEFER_ACCEPT);

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  CHECK(nameOf(t4) == n4, "IPv4 listener: bound to %s, was %s", nameOf(t4).show().c_str(),
        n4.show().c_str());
  CHECK(nameOf(t6) == n6, "IPv6 listener: bound to %s, was %s", nameOf(t6).show().c_str(),
        n6.show().c_str());
  CHECK(nameOf(u) == nu, "UDP: bound to %s, was %s", nameOf(u).show().c_str(), nu.show().c_str());
  CHECK(nameOf(uc) == nuc, "connected UDP: bound to %s, was %s", nameOf(uc).show().c_str(),
        nuc.show().c_str());
  CHECK(nameOf(uc, true) == nu, "connected UDP: peer %s, was %s", nameOf(uc, true).show().c_str(),
        nu.show().c_str());
  CHECK(intOpt(t4, SOL_SOCKET, SO_ACCEPTCONN) == 1, "IPv4 listener is not listening");
  CHECK(intOpt(t6, SOL_SOCKET, SO_ACCEPTCONN) == 1, "IPv6 listener is not listening");
  CHECK(intOpt(t4, SOL_SOCKET, SO_REUSEADDR) == 1, "SO_REUSEADDR lost");
  CHECK(intOpt(t6, SOL_SOCKET, SO_REUSEADDR) == 0, "SO_REUSEADDR appeared on the IPv6 listener");
  CHECK(intOpt(t4, IPPROTO_TCP, TCP_NODELAY) == 1, "TCP_NODELAY lost");
  CHECK(intOpt(t4, SOL_SOCKET, SO_KEEPALIVE) == 1, "SO_KEEPALIVE lost");
  CHECK(intOpt(t4, IPPROTO_TCP, TCP_KEEPIDLE) == 77, "TCP_KEEPIDLE is %d",
        intOpt(t4, IPPROTO_TCP, TCP_KEEPIDLE));
  CHECK((fcntl(t4, F_GETFL) & O_NONBLOCK) != 0, "O_NONBLOCK lost");
  CHECK((fcntl(t6, F_GETFL) & O_NONBLOCK) == 0, "O_NONBLOCK appeared");
  CHECK(intOpt(t6, IPPROTO_IPV6, IPV6_V6ONLY) == 1, "IPV6_V6ONLY lost");
  CHECK(intOpt(t6, SOL_SOCKET, SO_REUSEPORT) == 1, "SO_REUSEPORT lost");
  CHECK(intOpt(t6, IPPROTO_TCP, TCP_DEFER_ACCEPT) == deferAccept, "TCP_DEFER_ACCEPT is %d, was %d",
        intOpt(t6, IPPROTO_TCP, TCP_DEFER_ACCEPT), deferAccept);
  CHECK(intOpt(u, SOL_SOCKET, SO_BROADCAST) == 1, "SO_BROADCAST lost");
  CHECK(intOpt(u, SOL_SOCKET, SO_RCVBUF) == ubuf, "SO_RCVBUF is %d, was %d",
        intOpt(u, SOL_SOCKET, SO_RCVBUF), ubuf);
  tcp_info ti{};
  socklen_t len = sizeof ti;
  CHECK(getsockopt(t4, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_sacked == 7,
        "IPv4 listener: backlog %u, not 7", ti.tcpi_sacked);
  len = sizeof ti;
  CHECK(getsockopt(t6, IPPROTO_TCP, TCP_INFO, &ti, &len) == 0 && ti.tcpi_sacked == 3,
        "IPv6 listener: backlog %u, not 3", ti.tcpi_sacked);

  CHECK(nameOf(cc) == ncc && nameOf(cc, true) == nsc, "connection: client is %s -> %s",
        nameOf(cc).show().c_str(), nameOf(cc, true).show().c_str());
  CHECK(nameOf(sc) == nsc && nameOf(sc, true) == ncc, "connection: server end is %s -> %s",
        nameOf(sc).show().c_str(), nameOf(sc, true).show().c_str());
  CHECK(intOpt(cc, IPPROTO_TCP, TCP_NODELAY) == 1, "connection: TCP_NODELAY lost");
  receives(sc, "to-server", "connection, server end (queued before the dump)");
  receives(cc, "to-client!", "connection, client end (queued before the dump)");
  CHECK(send(cc, "more", 4, 0) == 4, "connection: send from the client: %s", strerror(errno));
  receives(sc, "more", "connection, server end (after)");
  CHECK(send(sc, "back", 4, 0) == 4, "connection: send from the server: %s", strerror(errno));
  receives(cc, "back", "connection, client end (after)");

  checkAccepts(t4, "IPv4 listener");
  checkAccepts(t6, "IPv6 listener");

  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(sendto(s, "fresh", 5, 0, nu.raw(), nu.len) == 5, "sendto the UDP socket: %s",
        strerror(errno));
  receives(u, "fresh", "bound UDP socket, from a new socket");
  CHECK(send(uc, "again", 5, 0) == 5, "send on the connected UDP socket: %s", strerror(errno));
  receives(u, "again", "bound UDP socket, from the connected one");
  close(s);
  return zdtm::finish();
}
