// Shared memory between two processes: MAP_SHARED|MAP_ANONYMOUS inherited
// across fork, a SysV segment (and one removed while attached), a memfd both
// mapped and held as an fd (with seals), a file deleted while mapped. After
// SIGUSR1 the content, ids, names and seals must be as before, and every area
// must still be shared between parent and child.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <algorithm>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kAnonBytes = 16 * kPage, kSysvBytes = 16 * kPage, kMemfdBytes = 3 * kPage,
                 kFileBytes = 4 * kPage;
constexpr uint64_t kParentMark = 0x5052454e54ull, kChildMark = 0x4348494c44ull;

struct Areas {
  char* anon;
  char* sysv;
  char* sysvGone;
  char* memfdMap;
  char* file;
  int sysvId;
  int sysvGoneId;
  int memfd;
};

char* mapOrDie(size_t len, int flags, int fd) {
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, flags, fd, 0);
  if (p == MAP_FAILED) zdtm::die("mmap");
  return static_cast<char*>(p);
}

// The last word of each area carries a mark, the rest a pattern.
std::vector<std::pair<char*, size_t>> all(const Areas& a) {
  return {{a.anon, kAnonBytes},
          {a.sysv, kSysvBytes},
          {a.sysvGone, kSysvBytes},
          {a.memfdMap, kMemfdBytes},
          {a.file, kFileBytes}};
}

uint64_t* mark(char* area, size_t len) {
  return reinterpret_cast<uint64_t*>(area + len - 8);
}

bool patternsHold(const Areas& a) {
  bool ok = true;
  uint64_t seed = 100;
  for (auto [p, len] : all(a)) {
    long bad = zdtm::findPatternMismatch(p, len - kPage, seed++);
    ok &= CHECK(bad < 0, "area %p: pattern broken at byte %ld", static_cast<void*>(p), bad);
  }
  return ok;
}

int childMain(const Areas& a) {
  zdtm::waitForSigusr1(zdtm::Wait::Sigsuspend);
  // The parent wrote its mark everywhere before waking us.
  for (auto [p, len] : all(a))
    CHECK(*mark(p, len) == kParentMark, "child does not see the parent's write at %p (0x%lx)",
          static_cast<void*>(p), static_cast<unsigned long>(*mark(p, len)));
  for (auto [p, len] : all(a)) *mark(p, len) = kChildMark;
  return zdtm::finish();
}

}  // namespace

int main() {
  Areas a{};
  a.anon = mapOrDie(kAnonBytes, MAP_SHARED | MAP_ANONYMOUS, -1);

  key_t key = key_t(0x6b700000 | (getpid() & 0xfffff));
  a.sysvId = shmget(key, kSysvBytes, IPC_CREAT | IPC_EXCL | 0640);
  if (a.sysvId < 0) zdtm::die("shmget");
  a.sysv = static_cast<char*>(shmat(a.sysvId, nullptr, 0));
  a.sysvGoneId = shmget(IPC_PRIVATE, kSysvBytes, IPC_CREAT | 0600);
  if (a.sysvGoneId < 0) zdtm::die("shmget private");
  a.sysvGone = static_cast<char*>(shmat(a.sysvGoneId, nullptr, 0));
  if (a.sysv == reinterpret_cast<char*>(-1) || a.sysvGone == reinterpret_cast<char*>(-1))
    zdtm::die("shmat");

  a.memfd = int(memfd_create("ckpt-test", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (a.memfd < 0 || ftruncate(a.memfd, kMemfdBytes) != 0) zdtm::die("memfd");
  a.memfdMap = mapOrDie(kMemfdBytes, MAP_SHARED, a.memfd);
  const int seals = F_SEAL_SHRINK | F_SEAL_GROW;
  if (fcntl(a.memfd, F_ADD_SEALS, seals) != 0) zdtm::die("F_ADD_SEALS");
  lseek(a.memfd, 1234, SEEK_SET);

  std::string path = zdtm::testPath("shm.deleted");
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ftruncate(fd, kFileBytes) != 0) zdtm::die("open %s", path.c_str());
  a.file = mapOrDie(kFileBytes, MAP_SHARED, fd);
  close(fd);
  unlink(path.c_str());

  uint64_t seed = 100;
  for (auto [p, len] : all(a)) zdtm::fillPattern(p, len - kPage, seed++);
  // Removed while attached: it lives on until the last detach.
  shmctl(a.sysvGoneId, IPC_RMID, nullptr);

  std::vector<zdtm::Mapping> before = zdtm::readMaps();
  pid_t child = fork();
  if (child < 0) zdtm::die("fork");
  if (child == 0) {
    zdtm::closeReadyFdInChild();
    _exit(childMain(a));
  }

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  patternsHold(a);
  shmid_ds ds{};
  if (CHECK(shmctl(a.sysvId, IPC_STAT, &ds) == 0, "SysV segment %d is gone", a.sysvId)) {
    CHECK(ds.shm_perm.__key == key, "SysV key 0x%x, was 0x%x", ds.shm_perm.__key, key);
    CHECK((ds.shm_perm.mode & 0777) == 0640, "SysV mode %o", ds.shm_perm.mode & 0777);
    CHECK(ds.shm_segsz == kSysvBytes, "SysV size %zu", size_t(ds.shm_segsz));
    CHECK(ds.shm_nattch == 2, "SysV segment attached %lu times, not 2",
          static_cast<unsigned long>(ds.shm_nattch));
  }
  shmid_ds gone{};
  if (CHECK(shmctl(a.sysvGoneId, IPC_STAT, &gone) == 0, "removed segment %d is gone too early",
            a.sysvGoneId))
    CHECK(gone.shm_perm.mode & SHM_DEST, "removed segment lost its SHM_DEST mark");
  CHECK(fcntl(a.memfd, F_GET_SEALS) == seals, "memfd seals %d, were %d",
        fcntl(a.memfd, F_GET_SEALS), seals);
  CHECK(lseek(a.memfd, 0, SEEK_CUR) == 1234, "memfd offset %ld", long(lseek(a.memfd, 0, SEEK_CUR)));
  std::vector<char> buf(kMemfdBytes);
  CHECK(pread(a.memfd, buf.data(), buf.size(), 0) == ssize_t(buf.size()) &&
            memcmp(buf.data(), a.memfdMap, buf.size()) == 0,
        "memfd fd and mapping differ");
  char link[256] = {};
  readlink(("/proc/self/fd/" + std::to_string(a.memfd)).c_str(), link, sizeof link - 1);
  CHECK(std::string(link) == "/memfd:ckpt-test (deleted)", "memfd link is '%s'", link);
  std::vector<zdtm::Mapping> after = zdtm::readMaps();
  for (auto [p, len] : all(a)) {
    auto was = std::find_if(before.begin(), before.end(),
                            [&](auto& m) { return m.start == reinterpret_cast<uint64_t>(p); });
    auto now = std::find_if(after.begin(), after.end(),
                            [&](auto& m) { return m.start == reinterpret_cast<uint64_t>(p); });
    if (CHECK(was != before.end() && now != after.end(), "area %p not mapped", (void*)p))
      CHECK(was->path == now->path && was->perms == now->perms, "area %p was '%s' %s, is '%s' %s",
            (void*)p, was->path.c_str(), was->perms.c_str(), now->path.c_str(), now->perms.c_str());
  }

  // Still shared with the child, both ways.
  for (auto [p, len] : all(a)) *mark(p, len) = kParentMark;
  kill(child, SIGUSR1);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
  for (auto [p, len] : all(a))
    CHECK(*mark(p, len) == kChildMark, "parent does not see the child's write at %p",
          static_cast<void*>(p));
  shmdt(a.sysv);
  shmdt(a.sysvGone);
  shmctl(a.sysvId, IPC_RMID, nullptr);
  return zdtm::finish();
}
