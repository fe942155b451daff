// zdtm: signalfd. One non-blocking, close-on-exec signalfd for SIGUSR2 and a
// real-time signal, with those signals blocked and pending (SIGUSR2 once, the
// real-time one twice, each with its value); one blocking signalfd for SIGHUP
// with nothing pending.
#include <sys/signalfd.h>

#include "zdtm.hpp"

namespace {

const int kRt = SIGRTMIN + 2;

std::string fdinfoField(int fd, const std::string& key) {
  auto text = zdtm::readFile("/proc/self/fdinfo/" + std::to_string(fd));
  if (!text) return "?";
  size_t at = text->find("\n" + key + ":");
  if (at == std::string::npos) return "?";
  at += key.size() + 2;
  size_t eol = text->find('\n', at);
  std::string v = text->substr(at, eol - at);
  v.erase(0, v.find_first_not_of(" \t"));
  return v;
}

// The next signal from a signalfd: its number and value, or 0.
int readSignal(int fd, int* value) {
  signalfd_siginfo si{};
  if (read(fd, &si, sizeof si) != sizeof si) return 0;
  *value = si.ssi_int;
  return int(si.ssi_signo);
}

void queueOrDie(int sig, int value) {
  if (sigqueue(getpid(), sig, sigval{.sival_int = value}) != 0) zdtm::die("sigqueue(%d)", sig);
}

}  // namespace

int main() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR2);
  sigaddset(&mask, kRt);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) zdtm::die("sigprocmask");
  sigdelset(&mask, SIGHUP);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0) zdtm::die("signalfd");
  sigset_t hup;
  sigemptyset(&hup);
  sigaddset(&hup, SIGHUP);
  int hupFd = signalfd(-1, &hup, 0);
  if (hupFd < 0) zdtm::die("signalfd(SIGHUP)");

  queueOrDie(SIGUSR2, 42);
  queueOrDie(kRt, 7);
  queueOrDie(kRt, 8);
  const std::string sfdMask = fdinfoField(sfd, "sigmask");
  const std::string hupMask = fdinfoField(hupFd, "sigmask");

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  CHECK(fdinfoField(sfd, "sigmask") == sfdMask, "signalfd mask %s, was %s",
        fdinfoField(sfd, "sigmask").c_str(), sfdMask.c_str());
  CHECK(fdinfoField(hupFd, "sigmask") == hupMask, "SIGHUP signalfd mask %s, was %s",
        fdinfoField(hupFd, "sigmask").c_str(), hupMask.c_str());
  int fl = fcntl(sfd, F_GETFL);
  CHECK((fl & O_NONBLOCK) && (fcntl(sfd, F_GETFD) & FD_CLOEXEC),
        "signalfd lost O_NONBLOCK or FD_CLOEXEC (flags %#o)", fl);
  fl = fcntl(hupFd, F_GETFL);
  CHECK(!(fl & O_NONBLOCK) && !(fcntl(hupFd, F_GETFD) & FD_CLOEXEC),
        "SIGHUP signalfd gained O_NONBLOCK or FD_CLOEXEC (flags %#o)", fl);

  // Lowest signal first, then the real-time ones in queue order.
  int value = -1;
  int sig = readSignal(sfd, &value);
  CHECK(sig == SIGUSR2 && value == 42, "first signal %d value %d, want SIGUSR2 (%d) value 42", sig,
        value, SIGUSR2);
  sig = readSignal(sfd, &value);
  CHECK(sig == kRt && value == 7, "second signal %d value %d, want %d value 7", sig, value, kRt);
  sig = readSignal(sfd, &value);
  CHECK(sig == kRt && value == 8, "third signal %d value %d, want %d value 8", sig, value, kRt);
  sig = readSignal(sfd, &value);
  CHECK(sig == 0 && errno == EAGAIN, "an extra signal %d is pending (%s)", sig, strerror(errno));

  // New signals still arrive through both.
  queueOrDie(SIGHUP, 5);
  sig = readSignal(hupFd, &value);
  CHECK(sig == SIGHUP && value == 5, "SIGHUP signalfd read signal %d value %d", sig, value);
  queueOrDie(SIGUSR2, 9);
  sig = readSignal(sfd, &value);
  CHECK(sig == SIGUSR2 && value == 9, "a new SIGUSR2 read as signal %d value %d", sig, value);
  return zdtm::finish();
}
