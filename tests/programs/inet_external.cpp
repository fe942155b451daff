// zdtm: a TCP connection to a server outside the tree (argv[1] is its port on
// 127.0.0.1, argv[2] "6" for ::1 instead; the test is the server). The
// connection is fd 42. After SIGUSR1 the program reads the 11 bytes
// "from-server" that were queued, then checks what
// CKPT_TEST_DIR/inet_external.expect says: "alive" (the server is still
// there: a write works and nothing more is queued) or "closed" (restored with
// --tcp-close or --external: EOF, a write fails with EPIPE, and the socket
// keeps its family and local address) or "closed-sameport" (the same, and
// its local port too: the old connection no longer holds it).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "zdtm.hpp"

namespace {
constexpr int kFd = 42;

struct Name {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
};
Name localName(int fd) {
  Name n;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&n.sa), &n.len) != 0) n.len = 0;
  return n;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) zdtm::die("usage: inet_external PORT [6]");
  const bool v6 = argc > 2 && std::string(argv[2]) == "6";
  const auto port = htons(static_cast<uint16_t>(atoi(argv[1])));
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    s6->sin6_port = port;
    len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s4->sin_port = port;
    len = sizeof *s4;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0)
    zdtm::die("connect to port %s", argv[1]);
  if (dup2(fd, kFd) != kFd) zdtm::die("dup2");
  close(fd);
  if (send(kFd, "from-client", 11, MSG_NOSIGNAL) != 11) zdtm::die("send");
  Name before = localName(kFd);

  zdtm::readyAndWait(zdtm::Wait::Pause);

  auto expect = zdtm::readFile(zdtm::testPath("inet_external.expect"));
  const std::string mode = expect ? expect->substr(0, expect->find('\n')) : "";
  const bool samePort = mode == "closed-sameport";
  const bool closed = mode == "closed" || samePort;
  CHECK(mode == "alive" || closed, "inet_external.expect says '%s'", mode.c_str());
  CHECK(zdtm::readQueued(kFd, 11) == "from-server", "the data queued by the server was lost");
  Name after = localName(kFd);
  if (!samePort) {  // only the family and address must hold
    reinterpret_cast<sockaddr_in*>(&after.sa)->sin_port = 0;
    reinterpret_cast<sockaddr_in*>(&before.sa)->sin_port = 0;
  }
  CHECK(after.len == before.len && memcmp(&after.sa, &before.sa, before.len) == 0,
        "getsockname changed (family %d, was %d)", after.sa.ss_family, before.sa.ss_family);
  char c;
  if (mode == "alive") {
    CHECK(recv(kFd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
          "the connection to the server is not open: %s", strerror(errno));
    CHECK(send(kFd, "ping", 4, MSG_NOSIGNAL) == 4, "a write to the server failed: %s",
          strerror(errno));
  } else if (closed) {
    CHECK(recv(kFd, &c, 1, MSG_DONTWAIT) == 0, "no EOF after the queued data: %s", strerror(errno));
    CHECK(send(kFd, "ping", 4, MSG_NOSIGNAL) < 0 && errno == EPIPE,
          "a write to the closed connection did not fail with EPIPE: %s", strerror(errno));
  }
  return zdtm::finish();
}
