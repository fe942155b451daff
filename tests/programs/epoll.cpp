// zdtm: epoll. An epoll (close-on-exec) watching a pipe with data ready, an
// empty eventfd under two fd numbers, a long timerfd, and a nested epoll
// created after it (a higher fd) that watches a ready eventfd and, edge-
// triggered, the pipe's write end; another epoll with a one-shot
// registration that already fired; all shared with a child.
// With "closed-tfd": also a registration whose fd was closed after it was
// added while the file stays open; ckpt must refuse to dump that.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>

#include <algorithm>
#include <set>

#include "zdtm.hpp"

namespace {

using Datas = std::set<uint64_t>;

void addOrDie(int ep, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) zdtm::die("EPOLL_CTL_ADD fd %d", fd);
}

int ctl(int ep, int op, int fd, uint32_t events, uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(ep, op, fd, &ev);
}

// The data of every event ready now.
Datas ready(int ep) {
  epoll_event evs[32];
  int n = epoll_wait(ep, evs, 32, 0);
  Datas out;
  for (int i = 0; i < n; i++) out.insert(evs[i].data.u64);
  return out;
}

std::string str(const Datas& d) {
  std::string s = "{";
  for (uint64_t v : d) {
    char b[32];
    snprintf(b, sizeof b, " %#llx", static_cast<unsigned long long>(v));
    s += b;
  }
  return s + " }";
}

// The registrations in this epoll's fdinfo as "tfd events data", sorted.
// EPOLLERR | EPOLLHUP are left out: the kernel adds them to every
// registration, except to a one-shot one that fired (see the caveat in
// core/fds/Epoll.cpp).
std::vector<std::string> registrations(int ep) {
  std::vector<std::string> out;
  auto text = zdtm::readFile("/proc/self/fdinfo/" + std::to_string(ep));
  if (!text) return out;
  size_t pos = 0;
  while ((pos = text->find("tfd:", pos)) != std::string::npos) {
    int tfd = 0;
    unsigned events = 0;
    unsigned long long data = 0;
    if (sscanf(text->c_str() + pos, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3) {
      char b[96];
      snprintf(b, sizeof b, "%d %x %llx", tfd, events & ~unsigned(EPOLLERR | EPOLLHUP), data);
      out.push_back(b);
    }
    pos += 4;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& l : v) s += "[" + l + "] ";
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const bool closedTfd = argc > 1 && strcmp(argv[1], "closed-tfd") == 0;
  int pipeA[2], pipeB[2];
  if (pipe(pipeA) != 0 || pipe(pipeB) != 0) zdtm::die("pipe");
  if (write(pipeA[1], "hello", 5) != 5 || write(pipeB[1], "x", 1) != 1) zdtm::die("write");
  int efd0 = eventfd(0, EFD_NONBLOCK);
  int efd1 = eventfd(1, EFD_NONBLOCK);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  if (efd0 < 0 || efd1 < 0 || tfd < 0) zdtm::die("eventfd/timerfd");
  itimerspec its{{0, 0}, {1000, 0}};
  if (timerfd_settime(tfd, 0, &its, nullptr) != 0) zdtm::die("timerfd_settime");
  int efdHigh = dup2(efd0, 200);  // the same file under a second number
  if (efdHigh != 200) zdtm::die("dup2");

  int outer = epoll_create1(EPOLL_CLOEXEC);
  int inner = epoll_create1(0);
  int ep2 = epoll_create1(0);
  if (outer < 0 || inner < 0 || ep2 < 0) zdtm::die("epoll_create1");
  addOrDie(outer, pipeA[0], EPOLLIN, 0x1111);
  addOrDie(outer, efd0, EPOLLIN, 0x3333);
  addOrDie(outer, tfd, EPOLLIN, 0x4444);
  addOrDie(outer, efdHigh, EPOLLIN, 0x8888);
  addOrDie(outer, inner, EPOLLIN, 0x6666);
  addOrDie(inner, efd1, EPOLLIN, 0x5555);
  addOrDie(inner, pipeA[1], EPOLLOUT | EPOLLET, 0x2222);
  addOrDie(ep2, pipeB[0], EPOLLIN | EPOLLONESHOT, 0x7777);
  if (ready(ep2) != Datas{0x7777}) zdtm::die("the one-shot registration did not fire");
  Datas outerReady{0x1111, 0x6666};
  if (closedTfd) {
    int extra = dup(pipeA[0]);
    addOrDie(outer, extra, EPOLLIN, 0x9999);
    close(extra);
    outerReady.insert(0x9999);
  }
  const auto regsOuter = registrations(outer), regsInner = registrations(inner),
             regsEp2 = registrations(ep2);

  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) {
    zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
    // Level-triggered: seeing them does not take them from the parent.
    Datas got = ready(outer);
    CHECK(got == outerReady, "child: the shared epoll reports %s, want %s", str(got).c_str(),
          str(outerReady).c_str());
    _exit(zdtm::finish());
  }

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);
  kill(child, SIGUSR1);
  int status = 0;
  pid_t waited = waitpid(child, &status, 0);
  CHECK(waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child %d: waitpid %d, status %#x", child, waited, status);

  CHECK(registrations(outer) == regsOuter, "outer registrations %s, were %s",
        joined(registrations(outer)).c_str(), joined(regsOuter).c_str());
  CHECK(registrations(inner) == regsInner, "nested registrations %s, were %s",
        joined(registrations(inner)).c_str(), joined(regsInner).c_str());
  CHECK(registrations(ep2) == regsEp2, "one-shot epoll registrations %s, were %s",
        joined(registrations(ep2)).c_str(), joined(regsEp2).c_str());
  CHECK(fcntl(outer, F_GETFD) & FD_CLOEXEC, "the outer epoll lost FD_CLOEXEC");
  CHECK(!(fcntl(inner, F_GETFD) & FD_CLOEXEC), "the nested epoll gained FD_CLOEXEC");

  Datas got = ready(outer);
  CHECK(got == outerReady, "outer epoll reports %s, want %s", str(got).c_str(),
        str(outerReady).c_str());
  got = ready(inner);
  CHECK(got == (Datas{0x2222, 0x5555}), "nested epoll reports %s, want { 0x2222 0x5555 }",
        str(got).c_str());
  got = ready(inner);
  CHECK(got == Datas{0x5555},
        "nested epoll reports %s the second time, want { 0x5555 } (the "
        "edge-triggered one was taken)",
        str(got).c_str());
  got = ready(ep2);
  CHECK(got.empty(), "the fired one-shot registration reports %s", str(got).c_str());

  // The registrations live under the old fd numbers.
  CHECK(ctl(ep2, EPOLL_CTL_MOD, pipeB[0], EPOLLIN | EPOLLONESHOT, 0x7778) == 0,
        "EPOLL_CTL_MOD of the one-shot fd %d: %s", pipeB[0], strerror(errno));
  got = ready(ep2);
  CHECK(got == Datas{0x7778}, "the re-armed one-shot reports %s", str(got).c_str());
  uint64_t one = 1;
  CHECK(write(efd0, &one, sizeof one) == sizeof one, "write eventfd: %s", strerror(errno));
  Datas want = outerReady;
  want.insert({0x3333, 0x8888});
  got = ready(outer);
  CHECK(got == want, "after writing the eventfd the outer epoll reports %s, want %s",
        str(got).c_str(), str(want).c_str());
  CHECK(ctl(outer, EPOLL_CTL_MOD, pipeA[0], EPOLLIN, 0x1112) == 0, "EPOLL_CTL_MOD fd %d: %s",
        pipeA[0], strerror(errno));
  got = ready(outer);
  CHECK(got.count(0x1112) && !got.count(0x1111), "after EPOLL_CTL_MOD the outer epoll reports %s",
        str(got).c_str());
  CHECK(ctl(outer, EPOLL_CTL_DEL, tfd, 0, 0) == 0, "EPOLL_CTL_DEL of the timerfd %d: %s", tfd,
        strerror(errno));
  CHECK(ctl(outer, EPOLL_CTL_DEL, tfd, 0, 0) != 0 && errno == ENOENT,
        "the timerfd is still registered after EPOLL_CTL_DEL");
  CHECK(ctl(outer, EPOLL_CTL_ADD, pipeA[0], EPOLLIN, 1) != 0 && errno == EEXIST,
        "adding fd %d again did not give EEXIST", pipeA[0]);
  CHECK(ctl(outer, EPOLL_CTL_DEL, efdHigh, 0, 0) == 0, "EPOLL_CTL_DEL of fd 200: %s",
        strerror(errno));
  got = ready(outer);
  CHECK(got.count(0x3333) && !got.count(0x8888), "after removing fd 200 the outer reports %s",
        str(got).c_str());
  return zdtm::finish();
}
