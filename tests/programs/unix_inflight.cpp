// zdtm: a file descriptor in flight. A pipe's read end was sent with
// SCM_RIGHTS over a socketpair and not received yet (the receiving end is fd
// 40). ckpt must refuse to dump this; after SIGUSR1 the program receives the
// fd and reads what was written to the pipe.
#include <sys/socket.h>

#include "zdtm.hpp"

int main() {
  constexpr int kFd = 40;
  int sv[2], p[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 || pipe(p) != 0) zdtm::die("socketpair/pipe");
  if (dup2(sv[1], kFd) != kFd) zdtm::die("dup2");
  close(sv[1]);
  if (write(p[1], "through", 7) != 7) zdtm::die("write");
  char byte = 'x';
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &p[0], sizeof(int));
  if (sendmsg(sv[0], &m, 0) != 1) zdtm::die("sendmsg");
  close(p[0]);

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  char got = 0;
  iovec riov{&got, 1};
  alignas(cmsghdr) char rcontrol[CMSG_SPACE(sizeof(int))] = {};
  msghdr r{};
  r.msg_iov = &riov;
  r.msg_iovlen = 1;
  r.msg_control = rcontrol;
  r.msg_controllen = sizeof rcontrol;
  int fd = -1;
  if (CHECK(recvmsg(kFd, &r, MSG_DONTWAIT) == 1 && got == 'x', "the message is gone: %s",
            strerror(errno)))
    for (cmsghdr* c = CMSG_FIRSTHDR(&r); c; c = CMSG_NXTHDR(&r, c))
      if (c->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(c), sizeof fd);
  char buf[8] = {};
  CHECK(fd >= 0 && read(fd, buf, 7) == 7 && strcmp(buf, "through") == 0,
        "the fd in flight does not read the pipe");
  return zdtm::finish();
}
