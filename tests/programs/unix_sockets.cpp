// zdtm: unix domain sockets. A socketpair of each type with data queued both
// ways (datagrams and seqpackets of distinct sizes), a listener bound to a
// path with an accepted connection and two more waiting in its backlog, an
// abstract-name seqpacket listener with one waiting, a stream pair shared
// with a child process, a half-shut-down pair, a datagram server bound to a
// path with datagrams queued by a connected client, a socket bound to a
// relative path, a listener whose socket file was removed, sockets whose peer
// closed (leaving data, EOF and a pending ECONNRESET), an unbound socket, and
// options: SO_PASSCRED, O_NONBLOCK, SO_RCVBUF/SO_SNDBUF, SO_PEEK_OFF.
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <cstddef>

#include "zdtm.hpp"

namespace {

std::string bytes(uint64_t seed, size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(zdtm::pattern(seed, i));
  return s;
}

struct Addr {
  sockaddr_un sa{};
  socklen_t len = 0;
};

Addr pathAddr(const std::string& path) {
  Addr a;
  a.sa.sun_family = AF_UNIX;
  snprintf(a.sa.sun_path, sizeof a.sa.sun_path, "%s", path.c_str());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

Addr abstractAddr(const std::string& name) {
  Addr a;
  a.sa.sun_family = AF_UNIX;
  memcpy(a.sa.sun_path + 1, name.data(), name.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

std::string nameOf(const Addr& a) {
  return std::string(a.sa.sun_path, a.len - offsetof(sockaddr_un, sun_path));
}

std::string sockName(int fd, bool peer) {
  Addr a;
  a.len = sizeof a.sa;
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a.sa), &a.len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&a.sa), &a.len);
  if (r != 0) return "<error " + std::string(strerror(errno)) + ">";
  return nameOf(a);
}

int newSocket(int type) {
  int fd = socket(AF_UNIX, type, 0);
  if (fd < 0) zdtm::die("socket");
  return fd;
}

void pairOrDie(int type, int sv[2]) {
  if (socketpair(AF_UNIX, type, 0, sv) != 0) zdtm::die("socketpair(%d)", type);
}

void bindOrDie(int fd, const Addr& a) {
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a.sa), a.len) != 0) zdtm::die("bind");
}

void connectOrDie(int fd, const Addr& a) {
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a.sa), a.len) != 0) zdtm::die("connect");
}

void sendOrDie(int fd, const std::string& s) {
  if (send(fd, s.data(), s.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(s.size()))
    zdtm::die("send %zu bytes", s.size());
}

bool nothingMore(int fd) {
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// One message (datagram or seqpacket) that must be queued already.
std::string readMessage(int fd) {
  std::vector<char> buf(1 << 17);
  ssize_t r = recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
  if (r < 0) return "<error " + std::string(strerror(errno)) + ">";
  return std::string(buf.data(), static_cast<size_t>(r));
}

// accept() of a connection that must be waiting (never blocks long).
int acceptReady(int l) {
  pollfd p{l, POLLIN, 0};
  if (poll(&p, 1, 2000) != 1) return -1;
  return accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
}

const size_t kDgramSizes[] = {1, 100, 4000, 17, 65000};
const size_t kDgramBack[] = {7, 300};
const size_t kSeqSizes[] = {5, 2000, 33};
const size_t kSeqBack[] = {64};

void checkMessages(const char* what, int fd, const size_t* sizes, size_t n, uint64_t seed) {
  for (size_t i = 0; i < n; i++) {
    std::string got = readMessage(fd);
    CHECK(got == bytes(seed + i, sizes[i]), "%s: message %zu is %zu bytes (want %zu) or differs",
          what, i, got.size(), sizes[i]);
  }
  CHECK(nothingMore(fd), "%s: more messages than were sent", what);
}

// Data flows both ways on a connected pair.
void checkFlows(const char* what, int x, int y) {
  CHECK(send(x, "ping", 4, MSG_NOSIGNAL) == 4, "%s: send: %s", what, strerror(errno));
  CHECK(zdtm::readQueued(y, 4) == "ping", "%s: ping did not arrive", what);
  CHECK(send(y, "pong!", 5, MSG_NOSIGNAL) == 5, "%s: send back: %s", what, strerror(errno));
  CHECK(zdtm::readQueued(x, 5) == "pong!", "%s: pong did not arrive", what);
}

}  // namespace

int main() {
  signal(SIGPIPE, SIG_IGN);
  if (chdir(zdtm::testDir().c_str()) != 0) zdtm::die("chdir %s", zdtm::testDir().c_str());
  // Socketpairs of each type with data queued both ways.
  int st[2], dg[2], sq[2];
  pairOrDie(SOCK_STREAM, st);
  pairOrDie(SOCK_DGRAM, dg);
  pairOrDie(SOCK_SEQPACKET, sq);
  const std::string streamAB = bytes(1, 3000), streamBA = bytes(2, 700);
  sendOrDie(st[0], streamAB.substr(0, 1000));
  sendOrDie(st[0], streamAB.substr(1000));
  sendOrDie(st[1], streamBA);
  for (size_t i = 0; i < std::size(kDgramSizes); i++)
    sendOrDie(dg[0], bytes(100 + i, kDgramSizes[i]));
  for (size_t i = 0; i < std::size(kDgramBack); i++)
    sendOrDie(dg[1], bytes(200 + i, kDgramBack[i]));
  for (size_t i = 0; i < std::size(kSeqSizes); i++) sendOrDie(sq[0], bytes(300 + i, kSeqSizes[i]));
  for (size_t i = 0; i < std::size(kSeqBack); i++) sendOrDie(sq[1], bytes(400 + i, kSeqBack[i]));

  // Options: SO_PASSCRED on dg[1], O_NONBLOCK on st[0], buffers on sq[0],
  // and a peek offset of 10 on st[1] (which holds streamAB).
  int one = 1;
  if (setsockopt(dg[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) != 0) zdtm::die("SO_PASSCRED");
  if (fcntl(st[0], F_SETFL, fcntl(st[0], F_GETFL) | O_NONBLOCK) != 0) zdtm::die("O_NONBLOCK");
  int rcv = 50000, snd = 70000;
  if (setsockopt(sq[0], SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv) != 0 ||
      setsockopt(sq[0], SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd) != 0)
    zdtm::die("buffers");
  socklen_t il = sizeof rcv;
  getsockopt(sq[0], SOL_SOCKET, SO_RCVBUF, &rcv, &il);
  getsockopt(sq[0], SOL_SOCKET, SO_SNDBUF, &snd, &il);
  int zero = 0;
  char peeked[10];
  if (setsockopt(st[1], SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) != 0 ||
      recv(st[1], peeked, sizeof peeked, MSG_PEEK) != sizeof peeked)
    zdtm::die("SO_PEEK_OFF");

  // A listener bound to a path: one accepted connection with data queued
  // both ways, then two clients waiting in its backlog.
  const std::string listenPath = zdtm::testPath("unix_listen.sock");
  unlink(listenPath.c_str());
  const Addr listenAddr = pathAddr(listenPath);
  int lst = newSocket(SOCK_STREAM);
  bindOrDie(lst, listenAddr);
  if (listen(lst, 5) != 0) zdtm::die("listen");
  int accClient = newSocket(SOCK_STREAM);
  connectOrDie(accClient, listenAddr);
  int accServer = accept(lst, nullptr, nullptr);
  if (accServer < 0) zdtm::die("accept");
  sendOrDie(accServer, "hello from server");
  sendOrDie(accClient, "hello from client");
  int waiting1 = newSocket(SOCK_STREAM), waiting2 = newSocket(SOCK_STREAM);
  connectOrDie(waiting1, listenAddr);
  connectOrDie(waiting2, listenAddr);

  // An abstract seqpacket listener with one client waiting.
  const std::string abstractName = "ckpt-unix-test-" + std::to_string(getpid());
  const Addr abstract = abstractAddr(abstractName);
  int alst = newSocket(SOCK_SEQPACKET);
  bindOrDie(alst, abstract);
  if (listen(alst, 3) != 0) zdtm::die("listen abstract");
  int awaiting = newSocket(SOCK_SEQPACKET);
  connectOrDie(awaiting, abstract);

  // A datagram server bound to a path, with three datagrams from a client connected to it.
  const std::string dgramPath = zdtm::testPath("unix_dgram.sock");
  unlink(dgramPath.c_str());
  const Addr dgramAddr = pathAddr(dgramPath);
  int dsrv = newSocket(SOCK_DGRAM);
  bindOrDie(dsrv, dgramAddr);
  int dcli = newSocket(SOCK_DGRAM);
  connectOrDie(dcli, dgramAddr);
  for (int i = 0; i < 3; i++) sendOrDie(dcli, bytes(500 + i, 10 * (i + 1)));

  // Half shut down: hs[0] said "bye" and shut down writing.
  int hs[2];
  pairOrDie(SOCK_STREAM, hs);
  sendOrDie(hs[0], "bye");
  if (shutdown(hs[0], SHUT_WR) != 0) zdtm::die("shutdown");

  // Unbound, unconnected.
  int lone = newSocket(SOCK_STREAM);

  // Bound to a relative path (from the cwd, the test directory), with a datagram queued.
  const Addr relAddr = pathAddr("unix_rel.sock");
  unlink("unix_rel.sock");
  int rel = newSocket(SOCK_DGRAM);
  bindOrDie(rel, relAddr);
  int relSender = newSocket(SOCK_DGRAM);
  if (sendto(relSender, "rel", 3, 0, reinterpret_cast<const sockaddr*>(&relAddr.sa), relAddr.len) !=
      3)
    zdtm::die("sendto unix_rel.sock");
  close(relSender);

  // A listener whose socket file was removed after bind().
  const std::string gonePath = zdtm::testPath("unix_gone.sock");
  unlink(gonePath.c_str());
  const Addr goneAddr = pathAddr(gonePath);
  int gone = newSocket(SOCK_STREAM);
  bindOrDie(gone, goneAddr);
  if (listen(gone, 1) != 0 || unlink(gonePath.c_str()) != 0) zdtm::die("listen/unlink gone");

  // Peers that closed: a stream end with data queued and ECONNRESET pending
  // (its peer closed with data unread), and a seqpacket end with only the error.
  int cl[2], sc[2];
  pairOrDie(SOCK_STREAM, cl);
  pairOrDie(SOCK_SEQPACKET, sc);
  sendOrDie(cl[1], "last words");
  sendOrDie(cl[0], "unread");
  sendOrDie(sc[0], "unread");
  close(cl[1]);
  close(sc[1]);

  // A stream pair shared with a child: each end has data from the other queued.
  int pc[2];
  pairOrDie(SOCK_STREAM, pc);
  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) {
    close(pc[0]);
    sendOrDie(pc[1], "child->parent");
    zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
    CHECK(zdtm::readQueued(pc[1], 13) == "parent->child", "child: the parent's data did not come");
    CHECK(send(pc[1], "child-ack", 9, MSG_NOSIGNAL) == 9, "child: send: %s", strerror(errno));
    _exit(zdtm::finish());
  }
  close(pc[1]);
  sendOrDie(pc[0], "parent->child");
  pollfd childWrote{pc[0], POLLIN, 0};
  if (poll(&childWrote, 1, 10000) != 1) zdtm::die("the child did not write");

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);
  kill(child, SIGUSR1);

  // The peek offset is where it was, shared with the program as before.
  int off = -2;
  socklen_t ol = sizeof off;
  CHECK(getsockopt(st[1], SOL_SOCKET, SO_PEEK_OFF, &off, &ol) == 0 && off == 10,
        "SO_PEEK_OFF is %d, want 10", off);
  CHECK(getsockopt(st[0], SOL_SOCKET, SO_PEEK_OFF, &off, &ol) == 0 && off == -1,
        "SO_PEEK_OFF of the other end is %d, want -1 (disabled)", off);
  char more[5];
  CHECK(recv(st[1], more, sizeof more, MSG_PEEK | MSG_DONTWAIT) == 5 &&
            memcmp(more, streamAB.data() + 10, 5) == 0,
        "a peek at offset 10 returned other bytes");

  // Socketpairs: the queued data, in order, with message boundaries.
  CHECK(zdtm::readQueued(st[1], streamAB.size()) == streamAB, "stream pair: data A->B differs");
  CHECK(zdtm::readQueued(st[0], streamBA.size()) == streamBA, "stream pair: data B->A differs");
  CHECK(nothingMore(st[0]) && nothingMore(st[1]), "stream pair: more data than was sent");
  checkMessages("datagram pair A->B", dg[1], kDgramSizes, std::size(kDgramSizes), 100);
  checkMessages("datagram pair B->A", dg[0], kDgramBack, std::size(kDgramBack), 200);
  checkMessages("seqpacket pair A->B", sq[1], kSeqSizes, std::size(kSeqSizes), 300);
  checkMessages("seqpacket pair B->A", sq[0], kSeqBack, std::size(kSeqBack), 400);
  checkFlows("stream pair", st[0], st[1]);
  checkFlows("seqpacket pair", sq[0], sq[1]);

  // Options.
  CHECK(fcntl(st[0], F_GETFL) & O_NONBLOCK, "stream end lost O_NONBLOCK");
  char c;
  CHECK(read(st[0], &c, 1) < 0 && errno == EAGAIN, "a read on the empty nonblocking end: %s",
        strerror(errno));
  CHECK(!(fcntl(st[1], F_GETFL) & O_NONBLOCK), "the other stream end became nonblocking");
  int v = -1;
  socklen_t vl = sizeof v;
  CHECK(getsockopt(dg[1], SOL_SOCKET, SO_PASSCRED, &v, &vl) == 0 && v == 1, "SO_PASSCRED is %d", v);
  CHECK(getsockopt(dg[0], SOL_SOCKET, SO_PASSCRED, &v, &vl) == 0 && v == 0,
        "SO_PASSCRED is %d on the other end", v);
  {
    sendOrDie(dg[0], "cred");
    char data[8];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{data, sizeof data};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    bool creds = false;
    if (recvmsg(dg[1], &m, MSG_DONTWAIT) == 4)
      for (cmsghdr* cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm))
        if (cm->cmsg_type == SCM_CREDENTIALS) {
          ucred u;
          memcpy(&u, CMSG_DATA(cm), sizeof u);
          creds = u.pid == getpid();
        }
    CHECK(creds, "SO_PASSCRED end got no SCM_CREDENTIALS naming this process");
  }
  int rcvNow = 0, sndNow = 0;
  getsockopt(sq[0], SOL_SOCKET, SO_RCVBUF, &rcvNow, &vl);
  getsockopt(sq[0], SOL_SOCKET, SO_SNDBUF, &sndNow, &vl);
  CHECK(rcvNow == rcv && sndNow == snd, "SO_RCVBUF/SO_SNDBUF are %d/%d, want %d/%d", rcvNow, sndNow,
        rcv, snd);

  // The listener: names, the accepted connection's data, then the backlog in order.
  CHECK(sockName(lst, false) == nameOf(listenAddr), "listener name is '%s'",
        sockName(lst, false).c_str());
  CHECK(sockName(accServer, false) == nameOf(listenAddr), "accepted socket's name is '%s'",
        sockName(accServer, false).c_str());
  CHECK(sockName(accClient, true) == nameOf(listenAddr), "client's peer name is '%s'",
        sockName(accClient, true).c_str());
  CHECK(zdtm::readQueued(accClient, 17) == "hello from server",
        "accepted connection: server data lost");
  CHECK(zdtm::readQueued(accServer, 17) == "hello from client",
        "accepted connection: client data lost");
  checkFlows("accepted connection", accClient, accServer);
  struct stat sst {};
  CHECK(stat(listenPath.c_str(), &sst) == 0 && S_ISSOCK(sst.st_mode), "%s is not a socket file",
        listenPath.c_str());
  CHECK(send(waiting1, "first", 5, MSG_NOSIGNAL) == 5, "backlog client 1: %s", strerror(errno));
  CHECK(send(waiting2, "second", 6, MSG_NOSIGNAL) == 6, "backlog client 2: %s", strerror(errno));
  int b1 = acceptReady(lst);
  int b2 = b1 >= 0 ? acceptReady(lst) : -1;
  if (CHECK(b1 >= 0 && b2 >= 0, "the backlog did not hold two connections (%s)", strerror(errno))) {
    CHECK(zdtm::readQueued(b1, 5) == "first", "accept() did not return the first connection first");
    CHECK(zdtm::readQueued(b2, 6) == "second", "the second accept() is not the second connection");
    checkFlows("backlog connection 1", waiting1, b1);
    checkFlows("backlog connection 2", waiting2, b2);
  }
  int fresh = newSocket(SOCK_STREAM);
  if (CHECK(connect(fresh, reinterpret_cast<const sockaddr*>(&listenAddr.sa), listenAddr.len) == 0,
            "a new connect() to %s: %s", listenPath.c_str(), strerror(errno))) {
    int a = acceptReady(lst);
    if (CHECK(a >= 0, "the new connection was not accepted"))
      checkFlows("new connection", fresh, a);
  }

  // The abstract listener.
  CHECK(sockName(alst, false) == nameOf(abstract), "abstract listener name differs");
  int ab = acceptReady(alst);
  if (CHECK(ab >= 0, "the abstract listener's backlog is empty")) {
    CHECK(send(awaiting, "seq", 3, 0) == 3, "abstract client send: %s", strerror(errno));
    CHECK(readMessage(ab) == "seq", "abstract connection: message lost");
  }
  int afresh = newSocket(SOCK_SEQPACKET);
  if (CHECK(connect(afresh, reinterpret_cast<const sockaddr*>(&abstract.sa), abstract.len) == 0,
            "a new connect() to the abstract name: %s", strerror(errno))) {
    int a = acceptReady(alst);
    CHECK(a >= 0, "the new abstract connection was not accepted");
  }

  // The datagram server.
  CHECK(sockName(dsrv, false) == nameOf(dgramAddr), "datagram server name is '%s'",
        sockName(dsrv, false).c_str());
  CHECK(sockName(dcli, true) == nameOf(dgramAddr), "datagram client's peer is '%s'",
        sockName(dcli, true).c_str());
  for (int i = 0; i < 3; i++)
    CHECK(readMessage(dsrv) == bytes(500 + i, 10 * (i + 1)), "datagram server: datagram %d differs",
          i);
  CHECK(nothingMore(dsrv), "datagram server: more datagrams than were sent");
  CHECK(send(dcli, "again", 5, 0) == 5, "datagram client: send: %s", strerror(errno));
  CHECK(readMessage(dsrv) == "again", "datagram client is not connected to the server");

  // Half shut down.
  CHECK(zdtm::readQueued(hs[1], 3) == "bye", "half shut down: data lost");
  CHECK(recv(hs[1], &c, 1, MSG_DONTWAIT) == 0, "half shut down: no EOF after the data");
  CHECK(send(hs[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE,
        "half shut down: writing the shut-down end did not give EPIPE");
  CHECK(send(hs[1], "still", 5, MSG_NOSIGNAL) == 5, "half shut down: the other way is closed");
  CHECK(zdtm::readQueued(hs[0], 5) == "still", "half shut down: the other way lost data");

  // Relative path, and the removed socket file.
  CHECK(sockName(rel, false) == nameOf(relAddr), "relative name is '%s'",
        sockName(rel, false).c_str());
  CHECK(readMessage(rel) == "rel", "relative-path socket lost its datagram");
  CHECK(stat(zdtm::testPath("unix_rel.sock").c_str(), &sst) == 0 && S_ISSOCK(sst.st_mode),
        "unix_rel.sock is not in the test directory");
  CHECK(sockName(gone, false) == nameOf(goneAddr), "the listener without a file is named '%s'",
        sockName(gone, false).c_str());
  CHECK(access(gonePath.c_str(), F_OK) != 0, "the removed socket file %s is back",
        gonePath.c_str());

  // Closed peers.
  CHECK(zdtm::readQueued(cl[0], 10) == "last words", "closed peer: the data it left is lost");
  CHECK(recv(cl[0], &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNRESET,
        "closed peer: no pending ECONNRESET after the data (%s)", strerror(errno));
  CHECK(recv(cl[0], &c, 1, MSG_DONTWAIT) == 0, "closed peer: no EOF (%s)", strerror(errno));
  CHECK(send(cl[0], "x", 1, MSG_NOSIGNAL) < 0 && errno == EPIPE, "closed peer: write gave %s",
        strerror(errno));
  CHECK(recv(sc[0], &c, 1, MSG_DONTWAIT) < 0 && errno == ECONNRESET,
        "closed seqpacket peer: no pending ECONNRESET (%s)", strerror(errno));
  CHECK(recv(sc[0], &c, 1, MSG_DONTWAIT) == 0, "closed seqpacket peer: no EOF (%s)",
        strerror(errno));

  // Unbound.
  CHECK(sockName(lone, false).empty(), "the unbound socket has a name");
  CHECK(sockName(lone, true).rfind("<error", 0) == 0, "the unconnected socket has a peer");

  // The child.
  CHECK(zdtm::readQueued(pc[0], 13) == "child->parent", "parent: the child's data did not come");
  pollfd reply{pc[0], POLLIN, 0};
  poll(&reply, 1, 10000);
  CHECK(zdtm::readQueued(pc[0], 9) == "child-ack", "parent: the child did not answer");
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child %d status %#x", child, status);
  return zdtm::finish();
}
