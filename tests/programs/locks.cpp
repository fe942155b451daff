// File locks: POSIX record locks (a write and a read range, and a child's
// own read range), an OFD lock, and a flock() lock on a description the
// child shares. After SIGUSR1 a new process (forked then, so it holds none
// of them) must find every one of them held, by the right owner.
#include <sys/file.h>
#include <sys/wait.h>

#include <string>

#include "zdtm.hpp"

namespace {

int openOrDie(const std::string& name) {
  std::string path = zdtm::testPath(name);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, 4096) != 0) zdtm::die("open %s", path.c_str());
  return fd;
}

void lockOrDie(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  if (fcntl(fd, cmd, &fl) != 0) zdtm::die("lock fd %d at %ld", fd, long(start));
}

// Who holds a lock that conflicts with a write lock on [start, start+len)
// through a new description (as F_OFD_GETLK sees it): the type and pid.
struct Holder {
  short type;
  pid_t pid;
};
Holder holder(const std::string& name, off_t start, off_t len, bool ofd) {
  int fd = open(zdtm::testPath(name).c_str(), O_RDWR | O_CLOEXEC);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = len;
  if (fd < 0 || fcntl(fd, ofd ? F_OFD_GETLK : F_GETLK, &fl) != 0) return {-1, 0};
  close(fd);
  return {fl.l_type, fl.l_pid};
}

bool flockHeld(const std::string& name) {
  int fd = open(zdtm::testPath(name).c_str(), O_RDWR | O_CLOEXEC);
  bool held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  close(fd);
  return held;
}

// Runs in a fresh child: it holds no lock, so it sees every one.
void checkFrom(pid_t parent, pid_t child) {
  Holder h = holder("posix", 0, 100, false);
  CHECK(h.type == F_WRLCK && h.pid == parent, "POSIX [0,100): type %d pid %d", h.type, h.pid);
  h = holder("posix", 200, 10, false);
  CHECK(h.type == F_RDLCK && h.pid == parent, "POSIX [200,EOF): type %d pid %d", h.type, h.pid);
  h = holder("posix", 120, 50, false);
  CHECK(h.type == F_UNLCK, "POSIX [120,170) should be free: type %d pid %d", h.type, h.pid);
  h = holder("child", 300, 100, false);
  CHECK(h.type == F_RDLCK && h.pid == child, "child's POSIX lock: type %d pid %d", h.type, h.pid);
  h = holder("ofd", 10, 10, true);
  CHECK(h.type == F_WRLCK, "OFD [10,20): type %d", h.type);
  h = holder("ofd", 30, 10, true);
  CHECK(h.type == F_UNLCK, "OFD [30,40) should be free: type %d", h.type);
  CHECK(flockHeld("flock"), "the flock() lock is not held");
}

}  // namespace

int main() {
  int posix = openOrDie("posix"), ofd = openOrDie("ofd"), fl = openOrDie("flock");
  int childFile = openOrDie("child");
  lockOrDie(posix, F_SETLK, F_WRLCK, 0, 100);
  lockOrDie(posix, F_SETLK, F_RDLCK, 200, 0);
  int dupped = dup(posix);  // the same description twice: one lock, not two
  lockOrDie(ofd, F_OFD_SETLK, F_WRLCK, 10, 10);
  if (flock(fl, LOCK_EX | LOCK_NB) != 0) zdtm::die("flock");
  int pipeFd[2];
  if (pipe2(pipeFd, O_CLOEXEC) != 0) zdtm::die("pipe");
  pid_t child = fork();
  if (child < 0) zdtm::die("fork");
  if (child == 0) {
    zdtm::closeReadyFdInChild();
    close(pipeFd[0]);
    lockOrDie(childFile, F_SETLK, F_RDLCK, 300, 100);
    close(pipeFd[1]);  // locked
    zdtm::waitForSigusr1(zdtm::Wait::Sigsuspend);
    _exit(0);
  }
  close(pipeFd[1]);
  char c;
  if (read(pipeFd[0], &c, 1) != 0) zdtm::die("child setup");
  close(pipeFd[0]);

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  pid_t checker = fork();
  if (checker == 0) {
    checkFrom(getppid(), child);
    _exit(zdtm::g_failures.load() ? 1 : 0);
  }
  int status = 0;
  waitpid(checker, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the checker failed (status 0x%x)", status);
  kill(child, SIGUSR1);
  waitpid(child, nullptr, 0);
  close(dupped);
  return zdtm::finish();
}
