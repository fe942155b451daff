// zdtm: a stream connection to a server outside the tree (argv[1] is its
// path; the test is the server). The connection is fd 42. After SIGUSR1 the
// program reads the 11 bytes "from-server" that were queued, then checks what
// CKPT_TEST_DIR/unix_external.expect says: "alive" (the server is still there:
// a write works and nothing more is queued) or "closed" (restored with
// --external: EOF, and a write fails with EPIPE). With argv[2], fd 43 is a
// datagram socket connected to that path (like syslog's /dev/log): it needs no
// --external, and after SIGUSR1 it sends "after" there in either mode.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "zdtm.hpp"

namespace {
constexpr int kFd = 42;
constexpr int kDgramFd = 43;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) zdtm::die("usage: unix_external SERVER-PATH");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    zdtm::die("connect %s", argv[1]);
  if (dup2(fd, kFd) != kFd) zdtm::die("dup2");
  close(fd);
  if (send(kFd, "from-client", 11, MSG_NOSIGNAL) != 11) zdtm::die("send");
  if (argc > 2) {
    sockaddr_un da{};
    da.sun_family = AF_UNIX;
    snprintf(da.sun_path, sizeof da.sun_path, "%s", argv[2]);
    int d = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (d < 0 || connect(d, reinterpret_cast<sockaddr*>(&da), sizeof da) != 0)
      zdtm::die("connect %s", argv[2]);
    if (dup2(d, kDgramFd) != kDgramFd) zdtm::die("dup2");
    close(d);
  }

  zdtm::readyAndWait(zdtm::Wait::Pause);

  auto expect = zdtm::readFile(zdtm::testPath("unix_external.expect"));
  const std::string mode = expect ? expect->substr(0, expect->find('\n')) : "";
  CHECK(mode == "alive" || mode == "closed", "unix_external.expect says '%s'", mode.c_str());
  CHECK(zdtm::readQueued(kFd, 11) == "from-server", "the data queued by the server was lost");
  char c;
  if (mode == "alive") {
    CHECK(recv(kFd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
          "the connection to the server is not open: %s", strerror(errno));
    CHECK(send(kFd, "ping", 4, MSG_NOSIGNAL) == 4, "a write to the server failed: %s",
          strerror(errno));
  } else if (mode == "closed") {
    CHECK(recv(kFd, &c, 1, MSG_DONTWAIT) == 0, "no EOF after the queued data: %s", strerror(errno));
    CHECK(send(kFd, "ping", 4, MSG_NOSIGNAL) < 0 && errno == EPIPE,
          "a write to the closed connection did not fail with EPIPE: %s", strerror(errno));
  }
  if (argc > 2)
    CHECK(send(kDgramFd, "after", 5, 0) == 5, "the datagram socket to %s: %s", argv[2],
          strerror(errno));
  return zdtm::finish();
}
