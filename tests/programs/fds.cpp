// zdtm: file descriptors. Regular files with different flags and offsets,
// close-on-exec flags, a directory fd, a deleted file, a pipe and a FIFO with
// bytes in flight, character devices, and shared open file descriptions: dup'd
// fds and a child process that share an offset with this process.
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <set>

#include "zdtm.hpp"

namespace {

constexpr size_t kDataSize = 8192;

unsigned char dataByte(size_t i) {
  return static_cast<unsigned char>(zdtm::pattern(5, i));
}

int openOrDie(const std::string& path, int flags, mode_t mode = 0644) {
  int fd = open(path.c_str(), flags, mode);
  if (fd < 0) zdtm::die("open %s", path.c_str());
  return fd;
}

off_t offsetOf(int fd) {
  return lseek(fd, 0, SEEK_CUR);
}

// Reads n bytes at the current offset and compares them with data bytes from `from`.
bool readsData(int fd, size_t from, size_t n) {
  std::vector<unsigned char> buf(n);
  if (read(fd, buf.data(), n) != static_cast<ssize_t>(n)) return false;
  for (size_t i = 0; i < n; i++)
    if (buf[i] != dataByte(from + i)) return false;
  return true;
}

std::set<int> openFds() {
  std::set<int> out;
  DIR* d = opendir("/proc/self/fd");
  if (!d) return out;
  int own = dirfd(d);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != own) out.insert(fd);
  }
  closedir(d);
  return out;
}

std::string fdList(const std::set<int>& s) {
  std::string out;
  for (int fd : s) out += std::to_string(fd) + " ";
  return out;
}

void checkFlags(const char* what, int fd, int accmode, int extra, bool cloexec) {
  int fl = fcntl(fd, F_GETFL);
  if (!CHECK(fl >= 0, "%s (fd %d): F_GETFL: %s", what, fd, strerror(errno))) return;
  CHECK((fl & O_ACCMODE) == accmode, "%s (fd %d): access mode %d, want %d", what, fd,
        fl & O_ACCMODE, accmode);
  CHECK((fl & extra) == extra, "%s (fd %d): flags %#o lack %#o", what, fd, fl, extra);
  int fdfl = fcntl(fd, F_GETFD);
  CHECK(((fdfl & FD_CLOEXEC) != 0) == cloexec, "%s (fd %d): FD_CLOEXEC is %s", what, fd,
        cloexec ? "off" : "on");
}

void checkCharDev(const char* what, int fd, unsigned maj, unsigned min) {
  struct stat st {};
  CHECK(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) && major(st.st_rdev) == maj &&
            minor(st.st_rdev) == min,
        "%s (fd %d) is not the character device %u:%u", what, fd, maj, min);
}

}  // namespace

int main() {
  const std::string dataPath = zdtm::testPath("fds.data");
  std::vector<unsigned char> data(kDataSize);
  for (size_t i = 0; i < kDataSize; i++) data[i] = dataByte(i);
  zdtm::writeFileOrDie(dataPath, data.data(), data.size());

  // Regular files: flags and offsets.
  const std::string appendPath = zdtm::testPath("fds.append");
  int fdAppend = openOrDie(appendPath, O_WRONLY | O_APPEND | O_CREAT | O_TRUNC);
  if (write(fdAppend, "0123456789", 10) != 10) zdtm::die("write append");
  int fdRo = openOrDie(dataPath, O_RDONLY);
  lseek(fdRo, 1234, SEEK_SET);
  int fdRw = openOrDie(dataPath, O_RDWR | O_CLOEXEC);
  lseek(fdRw, 4000, SEEK_SET);
  int fdHigh = dup2(fdRo, 100);  // a high number, sharing fdRo's description
  if (fdHigh != 100) zdtm::die("dup2 100");

  // Directory fd.
  int fdDir = openOrDie(zdtm::testDir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  // Deleted while open.
  const std::string deletedPath = zdtm::testPath("fds.deleted");
  int fdDeleted = openOrDie(deletedPath, O_RDWR | O_CREAT | O_TRUNC);
  if (write(fdDeleted, data.data(), 5000) != 5000) zdtm::die("write deleted");
  lseek(fdDeleted, 777, SEEK_SET);
  if (unlink(deletedPath.c_str()) != 0) zdtm::die("unlink");

  // Pipe with 1000 bytes in flight, both ends held.
  int pipeFds[2];
  if (pipe(pipeFds) != 0) zdtm::die("pipe");
  if (write(pipeFds[1], data.data(), 1000) != 1000) zdtm::die("write pipe");

  // FIFO with 300 bytes in flight.
  const std::string fifoPath = zdtm::testPath("fds.fifo");
  if (mkfifo(fifoPath.c_str(), 0600) != 0) zdtm::die("mkfifo");
  int fifoRd = openOrDie(fifoPath, O_RDONLY | O_NONBLOCK);
  int fifoWr = openOrDie(fifoPath, O_WRONLY);
  if (write(fifoWr, data.data() + 2000, 300) != 300) zdtm::die("write fifo");

  // Devices.
  int fdNull = openOrDie("/dev/null", O_WRONLY);
  int fdZero = openOrDie("/dev/zero", O_RDONLY | O_CLOEXEC);
  int fdRandom = openOrDie("/dev/urandom", O_RDONLY);

  // dup: one description, two fds (one of them close-on-exec).
  int dupA = openOrDie(dataPath, O_RDONLY);
  int dupB = dup(dupA);
  int dupC = fcntl(dupA, F_DUPFD_CLOEXEC, 50);
  lseek(dupA, 100, SEEK_SET);

  // Shared with a child: it reads after SIGUSR1, moving our offset too.
  int shared = openOrDie(dataPath, O_RDONLY);
  lseek(shared, 2000, SEEK_SET);
  // The child starts with SIGUSR1 blocked: the parent may forward it at once.
  pid_t child = zdtm::forkBlockingUsr1();
  if (child == 0) {
    // Keep only stdio and the shared fd.
    for (int fd : openFds())
      if (fd > 2 && fd != shared) close(fd);
    zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
    CHECK(offsetOf(shared) == 2000, "child: shared offset %ld, want 2000",
          static_cast<long>(offsetOf(shared)));
    CHECK(readsData(shared, 2000, 500), "child: reading the shared fd gave other data");
    _exit(zdtm::finish());
  }
  std::set<int> fdsBefore = openFds();
  fdsBefore.erase(zdtm::readyFdNumber());  // closed by readyAndWait()

  zdtm::readyAndWait(zdtm::Wait::Spin);
  kill(child, SIGUSR1);

  const std::set<int> fdsNow = openFds();
  CHECK(fdsNow == fdsBefore, "open fds are [%s], were [%s]", fdList(fdsNow).c_str(),
        fdList(fdsBefore).c_str());

  // Regular files.
  checkFlags("O_APPEND file", fdAppend, O_WRONLY, O_APPEND, false);
  checkFlags("O_RDONLY file", fdRo, O_RDONLY, 0, false);
  checkFlags("O_RDWR file", fdRw, O_RDWR, 0, true);
  checkFlags("dup2 to 100", fdHigh, O_RDONLY, 0, false);
  CHECK(offsetOf(fdRo) == 1234, "O_RDONLY file offset %ld, want 1234",
        static_cast<long>(offsetOf(fdRo)));
  CHECK(offsetOf(fdRw) == 4000, "O_RDWR file offset %ld, want 4000",
        static_cast<long>(offsetOf(fdRw)));
  CHECK(readsData(fdRo, 1234, 100), "O_RDONLY file: wrong data at 1234");
  CHECK(offsetOf(fdHigh) == 1334, "fd 100 does not share fdRo's offset (%ld)",
        static_cast<long>(offsetOf(fdHigh)));
  CHECK(readsData(fdRw, 4000, 100), "O_RDWR file: wrong data at 4000");
  struct stat st {};
  fstat(fdAppend, &st);
  const off_t appendSize = st.st_size;
  CHECK(appendSize == 10, "O_APPEND file size %ld, want 10", static_cast<long>(appendSize));
  // O_APPEND still appends (then the file is put back as it was, for a second restore).
  lseek(fdAppend, 0, SEEK_SET);
  CHECK(write(fdAppend, "X", 1) == 1, "write to the O_APPEND file: %s", strerror(errno));
  char last = 0;
  int check = open(appendPath.c_str(), O_RDONLY | O_CLOEXEC);
  CHECK(pread(check, &last, 1, appendSize) == 1 && last == 'X',
        "a write to the O_APPEND fd did not land at the end");
  close(check);
  CHECK(ftruncate(fdAppend, appendSize) == 0, "ftruncate the O_APPEND file: %s", strerror(errno));

  // Directory fd.
  checkFlags("directory", fdDir, O_RDONLY, O_DIRECTORY, true);
  int viaDir = openat(fdDir, "fds.data", O_RDONLY | O_CLOEXEC);
  if (CHECK(viaDir >= 0, "openat(dirfd, fds.data): %s", strerror(errno))) {
    CHECK(readsData(viaDir, 0, 100), "openat(dirfd) opened another file");
    close(viaDir);
  }

  // Deleted file: still there through the fd, content and offset intact.
  CHECK(fstat(fdDeleted, &st) == 0 && st.st_nlink == 0 && st.st_size == 5000,
        "deleted file: nlink %lu size %ld", static_cast<unsigned long>(st.st_nlink),
        static_cast<long>(st.st_size));
  CHECK(offsetOf(fdDeleted) == 777, "deleted file offset %ld, want 777",
        static_cast<long>(offsetOf(fdDeleted)));
  CHECK(readsData(fdDeleted, 777, 5000 - 777), "deleted file content differs");
  CHECK(access(deletedPath.c_str(), F_OK) != 0, "the deleted file is back in the directory");

  // Pipe: the 1000 bytes, then nothing more, and it still works.
  struct stat s0 {
  }, s1{};
  fstat(pipeFds[0], &s0);
  fstat(pipeFds[1], &s1);
  CHECK(S_ISFIFO(s0.st_mode) && s0.st_ino == s1.st_ino, "pipe ends are not one pipe");
  checkFlags("pipe read end", pipeFds[0], O_RDONLY, 0, false);
  checkFlags("pipe write end", pipeFds[1], O_WRONLY, 0, false);
  int avail = -1;
  ioctl(pipeFds[0], FIONREAD, &avail);
  CHECK(avail == 1000, "pipe holds %d bytes, want 1000", avail);
  CHECK(readsData(pipeFds[0], 0, 1000), "pipe data differs");
  CHECK(write(pipeFds[1], "ping", 4) == 4, "write to the pipe failed");
  char ping[5] = {};
  CHECK(read(pipeFds[0], ping, 4) == 4 && strcmp(ping, "ping") == 0,
        "pipe does not carry new data");

  // FIFO: same, and the read end is still non-blocking.
  checkFlags("FIFO read end", fifoRd, O_RDONLY, O_NONBLOCK, false);
  checkFlags("FIFO write end", fifoWr, O_WRONLY, 0, false);
  fstat(fifoRd, &s0);
  struct stat sp {};
  stat(fifoPath.c_str(), &sp);
  CHECK(S_ISFIFO(s0.st_mode) && s0.st_ino == sp.st_ino, "FIFO fd is not the FIFO at its path");
  CHECK(readsData(fifoRd, 2000, 300), "FIFO data differs");
  char more;
  CHECK(read(fifoRd, &more, 1) < 0 && errno == EAGAIN, "FIFO holds more than was written");

  // Devices.
  checkCharDev("/dev/null", fdNull, 1, 3);
  checkCharDev("/dev/zero", fdZero, 1, 5);
  checkCharDev("/dev/urandom", fdRandom, 1, 9);
  checkFlags("/dev/null", fdNull, O_WRONLY, 0, false);
  checkFlags("/dev/zero", fdZero, O_RDONLY, 0, true);
  CHECK(write(fdNull, "x", 1) == 1, "write /dev/null failed");
  char zeros[64];
  memset(zeros, 1, sizeof zeros);
  CHECK(read(fdZero, zeros, sizeof zeros) == sizeof zeros && zdtm::allBytes(zeros, sizeof zeros, 0),
        "/dev/zero does not read zeros");
  char rnd[32] = {};
  CHECK(read(fdRandom, rnd, sizeof rnd) == sizeof rnd && !zdtm::allBytes(rnd, sizeof rnd, 0),
        "/dev/urandom read failed");

  // dup'd fds share one offset; their close-on-exec flags are their own.
  CHECK(offsetOf(dupA) == 100 && offsetOf(dupB) == 100 && offsetOf(dupC) == 100,
        "dup'd offsets %ld %ld %ld, want 100", static_cast<long>(offsetOf(dupA)),
        static_cast<long>(offsetOf(dupB)), static_cast<long>(offsetOf(dupC)));
  CHECK(readsData(dupA, 100, 50), "dup'd fd: wrong data");
  CHECK(offsetOf(dupB) == 150 && offsetOf(dupC) == 150,
        "reading one dup'd fd did not move the others (%ld %ld)", static_cast<long>(offsetOf(dupB)),
        static_cast<long>(offsetOf(dupC)));
  checkFlags("dup", dupB, O_RDONLY, 0, false);
  checkFlags("F_DUPFD_CLOEXEC", dupC, O_RDONLY, 0, true);
  CHECK(dupC >= 50, "F_DUPFD_CLOEXEC fd is %d", dupC);

  // Shared with the child: its read moved our offset.
  int status = 0;
  pid_t waited = waitpid(child, &status, 0);
  CHECK(waited == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child %d: waitpid %d (%s), status %#x", child, waited, strerror(errno), status);
  CHECK(offsetOf(shared) == 2500, "offset shared with the child is %ld, want 2500",
        static_cast<long>(offsetOf(shared)));
  return zdtm::finish();
}
