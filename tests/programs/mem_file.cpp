// zdtm: file-backed memory. A private mapping with copied-on-write pages (the
// file must not change), a shared mapping written through (the file sees it),
// and a read-only private view of the shared file that must stay backed by
// the file (a write after restore shows through it).
#include <sys/mman.h>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 4;
constexpr size_t kBytes = kPages * kPage;

// Seeds: file content, data written through mappings before and after the dump.
constexpr uint64_t kPrivFile = 10, kPrivCow = 30, kPrivAfter = 40;
constexpr uint64_t kSharedFile = 20, kSharedBefore = 21, kSharedAfter = 22, kSharedPwrite = 23;

int createFile(const std::string& path, uint64_t seed) {
  std::vector<char> data(kBytes);
  for (size_t pg = 0; pg < kPages; pg++)
    zdtm::fillPattern(&data[pg * kPage], kPage, seed + pg * 100);
  zdtm::writeFileOrDie(path, data.data(), data.size());
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) zdtm::die("open %s", path.c_str());
  return fd;
}

char* mapFile(int fd, size_t bytes, int prot, int flags, off_t off) {
  void* p = mmap(nullptr, bytes, prot, flags, fd, off);
  if (p == MAP_FAILED) zdtm::die("mmap fd %d", fd);
  return static_cast<char*>(p);
}

// Does page `pg` of the file hold the pattern `seed`?
bool filePageIs(int fd, size_t pg, uint64_t seed) {
  std::vector<char> buf(kPage);
  if (pread(fd, buf.data(), kPage, static_cast<off_t>(pg * kPage)) != static_cast<ssize_t>(kPage))
    return false;
  return zdtm::findPatternMismatch(buf.data(), kPage, seed) < 0;
}
bool memPageIs(const char* base, size_t pg, uint64_t seed) {
  return zdtm::findPatternMismatch(base + pg * kPage, kPage, seed) < 0;
}

void checkMapping(const char* what, const void* p, const std::string& path, const char* perms,
                  uint64_t offset) {
  auto m = zdtm::mappingAt(p);
  if (!CHECK(m, "%s: no mapping at %p", what, p)) return;
  CHECK(m->path == path, "%s: maps %s, want %s", what, m->path.c_str(), path.c_str());
  CHECK(m->perms == perms, "%s: perms %s, want %s", what, m->perms.c_str(), perms);
  CHECK(m->offset == offset, "%s: offset %#llx, want %#llx", what,
        static_cast<unsigned long long>(m->offset), static_cast<unsigned long long>(offset));
}

}  // namespace

int main() {
  const std::string privPath = zdtm::testPath("mem_file.private");
  const std::string sharedPath = zdtm::testPath("mem_file.shared");
  int privFd = createFile(privPath, kPrivFile);
  int sharedFd = createFile(sharedPath, kSharedFile);

  // Private, writable: pages 1 and 3 copied on write.
  char* priv = mapFile(privFd, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
  zdtm::fillPattern(priv + 1 * kPage, kPage, kPrivCow + 1);
  zdtm::fillPattern(priv + 3 * kPage, kPage, kPrivCow + 3);

  // Shared, from file page 1 on (a non-zero offset): writes reach the file.
  char* shared = mapFile(sharedFd, kBytes - kPage, PROT_READ | PROT_WRITE, MAP_SHARED,
                         static_cast<off_t>(kPage));
  zdtm::fillPattern(shared, kPage, kSharedBefore);  // file page 1

  // A private read-only view of the whole shared file, never written.
  char* view = mapFile(sharedFd, kBytes, PROT_READ, MAP_PRIVATE, 0);
  // Only the mappings refer to the files across the dump.
  close(privFd);
  close(sharedFd);

  zdtm::readyAndWait(zdtm::Wait::Pause);

  privFd = open(privPath.c_str(), O_RDWR | O_CLOEXEC);
  sharedFd = open(sharedPath.c_str(), O_RDWR | O_CLOEXEC);
  if (!CHECK(privFd >= 0 && sharedFd >= 0, "cannot reopen the files")) return zdtm::finish();

  checkMapping("private mapping", priv, privPath, "rw-p", 0);
  checkMapping("shared mapping", shared, sharedPath, "rw-s", kPage);
  checkMapping("read-only view", view, sharedPath, "r--p", 0);

  // Private mapping: written pages keep their data, the file never got it.
  // (Checks accept the "after" data a first run wrote to the file: a
  // LeaveRunning test restores after the original has finished.)
  CHECK(memPageIs(priv, 0, kPrivFile), "private mapping page 0 differs from the file");
  CHECK(memPageIs(priv, 1, kPrivCow + 1), "private mapping page 1 lost its COW data");
  CHECK(memPageIs(priv, 3, kPrivCow + 3), "private mapping page 3 lost its COW data");
  CHECK(filePageIs(privFd, 1, kPrivFile + 100),
        "private file page 1 changed: a private write reached the file");
  CHECK(filePageIs(privFd, 3, kPrivFile + 300) || filePageIs(privFd, 3, kPrivAfter),
        "private file page 3 changed: a private write reached the file");
  // An untouched private page still follows the file; a COW page does not.
  std::vector<char> after(kPage);
  zdtm::fillPattern(after.data(), kPage, kPrivAfter);
  for (off_t pg : {2, 3}) {
    if (pwrite(privFd, after.data(), kPage, pg * kPage) != static_cast<ssize_t>(kPage))
      zdtm::fail("pwrite private file page %ld: %s", static_cast<long>(pg), strerror(errno));
  }
  CHECK(memPageIs(priv, 2, kPrivAfter),
        "untouched private page 2 does not show a new file write (not file-backed?)");
  CHECK(memPageIs(priv, 3, kPrivCow + 3), "COW private page 3 shows a file write");

  // Shared mapping (file pages 1..3): what was written before the dump is in
  // the file and in memory.
  CHECK(memPageIs(shared, 0, kSharedBefore), "shared mapping lost the data written before");
  CHECK(filePageIs(sharedFd, 1, kSharedBefore), "shared file page 1 lacks the data written before");
  CHECK(filePageIs(sharedFd, 0, kSharedFile + 0), "shared file page 0 changed");
  CHECK(memPageIs(shared, 1, kSharedFile + 200) || memPageIs(shared, 1, kSharedAfter),
        "shared mapping of file page 2 differs from the file");
  CHECK(memPageIs(shared, 2, kSharedFile + 300) || memPageIs(shared, 2, kSharedPwrite),
        "shared mapping of file page 3 differs from the file");
  // Still shared with the file: a new write through the mapping reaches it...
  zdtm::fillPattern(shared + kPage, kPage, kSharedAfter);  // file page 2
  CHECK(filePageIs(sharedFd, 2, kSharedAfter),
        "a write through the shared mapping did not reach the file");
  // ...and a write to the file reaches the mapping.
  std::vector<char> fromFile(kPage);
  zdtm::fillPattern(fromFile.data(), kPage, kSharedPwrite);
  if (pwrite(sharedFd, fromFile.data(), kPage, 3 * kPage) != static_cast<ssize_t>(kPage))
    zdtm::fail("pwrite shared file page 3: %s", strerror(errno));
  CHECK(memPageIs(shared, 2, kSharedPwrite), "a file write is not seen by the shared mapping");

  // The read-only view is backed by the same file: it sees all of that.
  CHECK(memPageIs(view, 0, kSharedFile + 0), "read-only view page 0 differs");
  CHECK(memPageIs(view, 1, kSharedBefore), "read-only view misses the data written before");
  CHECK(memPageIs(view, 2, kSharedAfter), "read-only view misses the write made after restore");
  CHECK(memPageIs(view, 3, kSharedPwrite), "read-only view misses the file write");
  CHECK(zdtm::faults(view, true), "writing the read-only view did not fault");

  // Put the private file back as it was at the dump: restore refuses an
  // image whose privately mapped file changed since, and a LeaveRunning or
  // RestoreTwice test restores the same image again after this run.
  for (off_t pg : {2, 3}) {
    std::vector<char> was(kPage);
    zdtm::fillPattern(was.data(), kPage, kPrivFile + uint64_t(pg) * 100);
    if (pwrite(privFd, was.data(), kPage, pg * kPage) != static_cast<ssize_t>(kPage))
      zdtm::fail("restoring private file page %ld: %s", static_cast<long>(pg), strerror(errno));
  }
  close(privFd);
  close(sharedFd);
  return zdtm::finish();
}
