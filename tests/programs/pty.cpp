// zdtm: pseudo-terminals. A session leader whose controlling terminal is a
// pty slave (also open through /dev/tty), a foreground group of its own
// child, the master in the parent with packet mode on, unusual modes and
// window size, exclusive mode, bytes queued both ways; and a second pair
// whose slave side was closed (its master reads EIO).
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

#include <string>

#include "zdtm.hpp"

namespace {

const std::string kInput = "typed-ahead\x01\x7f";  // to the slave's reader, unread
const std::string kOutput = "drawn\n";             // by the slave side, unread by the master
const std::string kOutputSeen = "drawn\r\n";       // after ONLCR
constexpr unsigned short kRows = 33, kCols = 111;

std::string readN(int fd, size_t n) {
  std::string out;
  char buf[256];
  while (out.size() < n) {
    ssize_t r = read(fd, buf, std::min(sizeof buf, n - out.size()));
    if (r <= 0) break;
    out.append(buf, size_t(r));
  }
  return out;
}

std::string hexOf(const std::string& s) {
  std::string out;
  char b[4];
  for (unsigned char ch : s) {
    snprintf(b, sizeof b, "%02x ", ch);
    out += b;
  }
  return out;
}

// The kernel moves bytes between the sides asynchronously: wait until they
// are queued (nothing to block on that tells exactly when all have arrived).
void awaitQueued(int fd, size_t n, const char* what) {
  for (long spins = 0;; spins++) {
    int q = 0;
    if (ioctl(fd, FIONREAD, &q) != 0) zdtm::die("FIONREAD");
    if (size_t(q) >= n) return;
    if (spins > 100000000) zdtm::die("the %s bytes never arrived", what);
    sched_yield();
  }
}

termios wantedModes(int fd) {
  termios t{};
  if (tcgetattr(fd, &t) != 0) zdtm::die("tcgetattr");
  t.c_lflag &= ~tcflag_t(ICANON | ECHO);
  t.c_lflag |= ECHOCTL;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  t.c_cc[VINTR] = 0x18;  // Ctrl-X
  t.c_iflag |= IUTF8;
  cfsetospeed(&t, B9600);
  return t;
}

bool sameModes(const termios& a, const termios& b) {
  return a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag && a.c_cflag == b.c_cflag &&
         a.c_lflag == b.c_lflag && memcmp(a.c_cc, b.c_cc, sizeof a.c_cc) == 0 &&
         cfgetospeed(&a) == cfgetospeed(&b);
}

// The grandchild: leads the terminal's foreground group.
int foregroundMember(int slave) {
  zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
  CHECK(tcgetpgrp(slave) == getpgrp(), "foreground group is %d, want this group %d",
        tcgetpgrp(slave), getpgrp());
  CHECK(getpgrp() == getpid(), "grandchild's group %d is not its own", getpgrp());
  int tty = open("/dev/tty", O_RDWR);
  CHECK(tty >= 0, "grandchild has no controlling terminal: %s", strerror(errno));
  return zdtm::finish();
}

// The child: session leader on the slave.
int sessionLeader(const char* slavePath, int ready) {
  setsid();
  int slave = open(slavePath, O_RDWR);  // no O_NOCTTY: becomes the controlling terminal
  if (slave < 0) zdtm::die("open %s", slavePath);
  int devTty = open("/dev/tty", O_RDWR);
  if (devTty < 0) zdtm::die("open /dev/tty");
  if (ioctl(slave, TIOCEXCL) != 0) zdtm::die("TIOCEXCL");
  pid_t grandchild = fork();
  if (grandchild < 0) zdtm::die("fork");
  if (grandchild == 0) {
    setpgid(0, 0);
    _exit(foregroundMember(slave));
  }
  setpgid(grandchild, grandchild);
  if (tcsetpgrp(slave, grandchild) != 0) zdtm::die("tcsetpgrp");
  if (write(slave, kOutput.data(), kOutput.size()) != ssize_t(kOutput.size()))
    zdtm::die("write to the slave");
  if (write(ready, "x", 1) != 1) zdtm::die("write ready");
  close(ready);

  zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
  kill(grandchild, SIGUSR1);
  CHECK(tcgetsid(slave) == getpid(), "the slave's session is %d, want %d", tcgetsid(slave),
        getpid());
  int excl = 0;
  CHECK(ioctl(slave, TIOCGEXCL, &excl) == 0 && excl == 1, "exclusive mode lost");
  termios t{};
  CHECK(tcgetattr(devTty, &t) == 0, "/dev/tty fd: %s", strerror(errno));
  int status = 0;
  CHECK(waitpid(grandchild, &status, 0) == grandchild && WIFEXITED(status) &&
            WEXITSTATUS(status) == 0,
        "grandchild failed (status %#x)", status);
  return zdtm::finish();
}

}  // namespace

int main() {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) zdtm::die("posix_openpt");
  std::string slavePath = ptsname(master);
  termios modes = wantedModes(master);
  if (tcsetattr(master, TCSANOW, &modes) != 0) zdtm::die("tcsetattr");
  winsize ws{kRows, kCols, 0, 0};
  if (ioctl(master, TIOCSWINSZ, &ws) != 0) zdtm::die("TIOCSWINSZ");
  int one = 1;
  if (ioctl(master, TIOCPKT, &one) != 0) zdtm::die("TIOCPKT");

  // A slave opened through the master with O_CLOEXEC (which then stays in
  // the description's flags), and a dup of it that is not close-on-exec.
  int peer = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (peer < 0) zdtm::die("TIOCGPTPEER");
  int peerDup = dup(peer);

  // A pair whose slave side is gone.
  int closedMaster = posix_openpt(O_RDWR | O_NOCTTY);
  if (closedMaster < 0 || grantpt(closedMaster) != 0 || unlockpt(closedMaster) != 0)
    zdtm::die("posix_openpt");
  int s2 = open(ptsname(closedMaster), O_RDWR | O_NOCTTY);
  if (s2 < 0) zdtm::die("open second slave");
  close(s2);

  // The parent holds the slave too (another open file description).
  int slave = open(slavePath.c_str(), O_RDWR | O_NOCTTY);
  if (slave < 0) zdtm::die("open %s", slavePath.c_str());
  if (write(master, kInput.data(), kInput.size()) != ssize_t(kInput.size()))
    zdtm::die("write to the master");
  awaitQueued(slave, kInput.size(), "input");

  int sync[2];
  if (pipe(sync) != 0) zdtm::die("pipe");
  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) {
    close(sync[0]);
    close(master);
    close(closedMaster);
    _exit(sessionLeader(slavePath.c_str(), sync[1]));
  }
  close(sync[1]);
  char c;
  if (read(sync[0], &c, 1) != 1) zdtm::die("child did not start");
  close(sync[0]);
  awaitQueued(master, kOutputSeen.size(), "output");

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);
  kill(child, SIGUSR1);

  termios now{};
  CHECK(tcgetattr(master, &now) == 0 && sameModes(now, modes), "terminal modes changed");
  winsize got{};
  CHECK(ioctl(master, TIOCGWINSZ, &got) == 0 && got.ws_row == kRows && got.ws_col == kCols,
        "window size %ux%u, want %ux%u", got.ws_col, got.ws_row, kCols, kRows);
  int pkt = 0;
  CHECK(ioctl(master, TIOCGPKT, &pkt) == 0 && pkt == 1, "packet mode lost");
  // Packet mode: one status byte (TIOCPKT_DATA) before the data.
  std::string out = readN(master, kOutputSeen.size() + 1);
  CHECK(out.size() == kOutputSeen.size() + 1 && out[0] == TIOCPKT_DATA &&
            out.substr(1) == kOutputSeen,
        "master read %zu bytes (%s), want status byte + 'drawn\\r\\n'", out.size(),
        hexOf(out).c_str());
  char buf[16];
  errno = 0;
  CHECK(read(closedMaster, buf, sizeof buf) < 0 && errno == EIO,
        "the master whose slave was closed does not read EIO (errno %d)", errno);
  // The typed-ahead bytes wait for the slave's reader (the parent: a reader
  // in the session but not in its foreground would get EIO).
  std::string in = readN(slave, kInput.size());
  CHECK(in == kInput, "slave read '%s' (%zu bytes), want the %zu typed-ahead bytes", in.c_str(),
        in.size(), kInput.size());
  CHECK((fcntl(peer, F_GETFD) & FD_CLOEXEC) != 0, "the TIOCGPTPEER fd lost close-on-exec");
  CHECK((fcntl(peerDup, F_GETFD) & FD_CLOEXEC) == 0,
        "the dup of the TIOCGPTPEER fd became close-on-exec");
  // The parent's own slave fd is the same terminal as the child's.
  CHECK(tcgetsid(slave) < 0, "the parent's slave fd acts as its controlling terminal");
  CHECK(ptsname(master) && isatty(slave), "the parent's slave fd is no terminal");
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "session leader failed (status %#x)", status);
  return zdtm::finish();
}
