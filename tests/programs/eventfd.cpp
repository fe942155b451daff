// zdtm: eventfd. A counter of 5, a counter above 32 bits, an empty
// non-blocking one, a semaphore of 3 (close-on-exec), a dup, and one shared
// with a child that adds to it after the restore.
#include <sys/eventfd.h>
#include <sys/wait.h>

#include "zdtm.hpp"

namespace {

constexpr uint64_t kBig = 0x123456789ULL;

int eventfdOrDie(unsigned count, int flags) {
  int fd = eventfd(count, flags);
  if (fd < 0) zdtm::die("eventfd(%u, %#x)", count, flags);
  return fd;
}

// One read; 0 with errno set when it fails.
uint64_t readCount(int fd) {
  uint64_t v = 0;
  if (read(fd, &v, sizeof v) != sizeof v) return 0;
  return v;
}

void checkFlags(const char* what, int fd, bool nonblock, bool cloexec) {
  int fl = fcntl(fd, F_GETFL);
  CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDWR, "%s (fd %d): flags %#o", what, fd, fl);
  CHECK(((fl & O_NONBLOCK) != 0) == nonblock, "%s (fd %d): O_NONBLOCK is %s", what, fd,
        nonblock ? "off" : "on");
  int fdfl = fcntl(fd, F_GETFD);
  CHECK(((fdfl & FD_CLOEXEC) != 0) == cloexec, "%s (fd %d): FD_CLOEXEC is %s", what, fd,
        cloexec ? "off" : "on");
}

bool isEventfd(int fd) {
  char link[64] = {};
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  return readlink(path.c_str(), link, sizeof link - 1) > 0 &&
         strcmp(link, "anon_inode:[eventfd]") == 0;
}

}  // namespace

int main() {
  int plain = eventfdOrDie(5, 0);
  int big = eventfdOrDie(0, EFD_NONBLOCK);
  if (write(big, &kBig, sizeof kBig) != sizeof kBig) zdtm::die("write big");
  int empty = eventfdOrDie(0, EFD_NONBLOCK);
  int sem = eventfdOrDie(3, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  int semDup = dup(sem);
  int shared = eventfdOrDie(1, EFD_NONBLOCK);

  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) {
    zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
    uint64_t add = 10;
    CHECK(isEventfd(shared), "child: fd %d is not an eventfd", shared);
    CHECK(write(shared, &add, sizeof add) == sizeof add, "child: write to the shared eventfd: %s",
          strerror(errno));
    _exit(zdtm::finish());
  }

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);
  kill(child, SIGUSR1);

  for (int fd : {plain, big, empty, sem, semDup, shared})
    CHECK(isEventfd(fd), "fd %d is not an eventfd", fd);
  checkFlags("eventfd(5)", plain, false, false);
  checkFlags("big", big, true, false);
  checkFlags("empty", empty, true, false);
  checkFlags("semaphore", sem, true, true);
  checkFlags("dup of the semaphore", semDup, true, false);

  uint64_t v = readCount(plain);
  CHECK(v == 5, "eventfd(5) reads %llu (%s)", static_cast<unsigned long long>(v), strerror(errno));
  uint64_t one = 1;
  CHECK(write(plain, &one, sizeof one) == sizeof one && readCount(plain) == 1,
        "eventfd(5) does not count on after the restore");

  v = readCount(big);
  CHECK(v == kBig, "big counter reads %#llx, want %#llx", static_cast<unsigned long long>(v),
        static_cast<unsigned long long>(kBig));

  CHECK(readCount(empty) == 0 && errno == EAGAIN, "the empty eventfd is not empty (or blocks)");

  // Semaphore: three reads of 1 (through either fd), then nothing.
  for (int i = 0; i < 3; i++) {
    v = readCount(i == 1 ? semDup : sem);
    CHECK(v == 1, "semaphore read %d gave %llu (%s)", i, static_cast<unsigned long long>(v),
          strerror(errno));
  }
  CHECK(readCount(sem) == 0 && errno == EAGAIN, "the semaphore holds more than 3");

  // The child added 10 to the shared counter of 1.
  int status = 0;
  pid_t waited = waitpid(child, &status, 0);
  CHECK(waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child %d: waitpid %d, status %#x", child, waited, status);
  v = readCount(shared);
  CHECK(v == 11, "shared eventfd reads %llu, want 11 (1 before, 10 from the child)",
        static_cast<unsigned long long>(v));
  return zdtm::finish();
}
