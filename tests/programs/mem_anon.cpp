// zdtm: private anonymous memory. Patterned, sparse, zero-but-touched,
// PROT_NONE guard and read-only areas, stack data, malloc and brk heap; after
// restore the heap still grows and clock_gettime (vDSO) still works.
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;

void* mapAnon(size_t bytes, int prot = PROT_READ | PROT_WRITE) {
  void* p = mmap(nullptr, bytes, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) zdtm::die("mmap %zu", bytes);
  return p;
}

void checkPattern(const char* what, const void* p, size_t bytes, uint64_t seed) {
  long bad = zdtm::findPatternMismatch(p, bytes, seed);
  CHECK(bad < 0, "%s: pattern differs at byte %ld of %zu", what, bad, bytes);
}

void checkPerms(const char* what, const void* p, size_t bytes, const char* perms) {
  auto m = zdtm::mappingAt(p);
  if (!CHECK(m, "%s: no mapping at %p", what, p)) return;
  CHECK(m->perms == perms, "%s: perms %s, want %s", what, m->perms.c_str(), perms);
  CHECK(m->end >= reinterpret_cast<uintptr_t>(p) + bytes, "%s: mapping ends early", what);
}

// Announces ready and waits with a large array live in its frame, so that a
// real chunk of the main stack holds data across the dump.
[[gnu::noinline]] void waitWithStackArray() {
  constexpr size_t kBytes = 256 * 1024;
  alignas(64) volatile uint64_t buf[kBytes / 8];
  for (size_t i = 0; i < kBytes / 8; i++) buf[i] = zdtm::pattern(77, i);
  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);
  size_t bad = 0;
  for (size_t i = 0; i < kBytes / 8; i++)
    if (buf[i] != zdtm::pattern(77, i)) bad++;
  CHECK(bad == 0, "stack array: %zu of %zu words differ", bad, kBytes / 8);
}

}  // namespace

int main() {
  // Patterned area, 64 pages.
  const size_t patBytes = 64 * kPage;
  auto* pat = static_cast<char*>(mapAnon(patBytes));
  zdtm::fillPattern(pat, patBytes, 1);

  // Sparse: 64 MiB, only a few scattered pages touched.
  const size_t sparseBytes = 64 << 20;
  auto* sparse = static_cast<char*>(mapAnon(sparseBytes));
  const size_t sparsePages[] = {0, 1, 100, 4095, 8191, 16383};
  for (size_t pg : sparsePages) zdtm::fillPattern(sparse + pg * kPage, kPage, 1000 + pg);

  // Touched, then zeroed: present pages whose content is all zero.
  const size_t zeroBytes = 16 * kPage;
  auto* zero = static_cast<char*>(mapAnon(zeroBytes));
  memset(zero, 0xa5, zeroBytes);
  memset(zero, 0, zeroBytes);

  // Guard: 3 pages RW, the middle one PROT_NONE.
  auto* guard = static_cast<char*>(mapAnon(3 * kPage));
  zdtm::fillPattern(guard, kPage, 2);
  zdtm::fillPattern(guard + 2 * kPage, kPage, 3);
  if (mprotect(guard + kPage, kPage, PROT_NONE) != 0) zdtm::die("mprotect none");
  // A whole PROT_NONE reservation, never touched.
  auto* reserve = static_cast<char*>(mapAnon(16 * kPage, PROT_NONE));

  // Read-only after writing.
  const size_t roBytes = 8 * kPage;
  auto* ro = static_cast<char*>(mapAnon(roBytes));
  zdtm::fillPattern(ro, roBytes, 4);
  if (mprotect(ro, roBytes, PROT_READ) != 0) zdtm::die("mprotect ro");

  // Heap: small and large (mmap-backed) malloc blocks, and brk grown by sbrk.
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t i = 0; i < 200; i++) {
    size_t n = 16 + i * 37;
    auto* b = static_cast<char*>(malloc(n));
    memset(b, static_cast<int>(i & 0xff), n);
    blocks.emplace_back(b, n);
  }
  const size_t bigBytes = 4 << 20;
  auto* big = static_cast<char*>(malloc(bigBytes));
  zdtm::fillPattern(big, bigBytes, 5);
  const size_t brkBytes = 32 * kPage;
  auto* brkArea = static_cast<char*>(sbrk(static_cast<intptr_t>(brkBytes)));
  if (brkArea == reinterpret_cast<char*>(-1)) zdtm::die("sbrk");
  zdtm::fillPattern(brkArea, brkBytes, 6);
  void* brkBefore = sbrk(0);

  timespec monoBefore{}, realBefore{};
  clock_gettime(CLOCK_MONOTONIC, &monoBefore);
  clock_gettime(CLOCK_REALTIME, &realBefore);
  auto vdsoBase = getauxval(AT_SYSINFO_EHDR);

  waitWithStackArray();

  checkPattern("patterned area", pat, patBytes, 1);
  checkPerms("patterned area", pat, patBytes, "rw-p");

  checkPerms("sparse area", sparse, sparseBytes, "rw-p");
  for (size_t pg = 0; pg < sparseBytes / kPage; pg++) {
    bool touched = false;
    for (size_t t : sparsePages) touched |= (t == pg);
    char* p = sparse + pg * kPage;
    if (touched) {
      CHECK(zdtm::findPatternMismatch(p, kPage, 1000 + pg) < 0, "sparse page %zu differs", pg);
    } else if (!zdtm::allBytes(p, kPage, 0)) {
      zdtm::fail("sparse page %zu should be zero", pg);
      break;
    }
  }

  CHECK(zdtm::allBytes(zero, zeroBytes, 0), "zeroed area is not zero");
  checkPerms("zeroed area", zero, zeroBytes, "rw-p");

  checkPattern("guard low page", guard, kPage, 2);
  checkPattern("guard high page", guard + 2 * kPage, kPage, 3);
  checkPerms("guard low page", guard, kPage, "rw-p");
  checkPerms("guard page", guard + kPage, kPage, "---p");
  checkPerms("guard high page", guard + 2 * kPage, kPage, "rw-p");
  CHECK(zdtm::faults(guard + kPage, false), "reading the PROT_NONE guard page did not fault");
  checkPerms("PROT_NONE reservation", reserve, 16 * kPage, "---p");
  CHECK(zdtm::faults(reserve + 5 * kPage, false),
        "reading the PROT_NONE reservation did not fault");

  checkPattern("read-only area", ro, roBytes, 4);
  checkPerms("read-only area", ro, roBytes, "r--p");
  CHECK(zdtm::faults(ro + kPage, true), "writing the read-only area did not fault");

  for (size_t i = 0; i < blocks.size(); i++) {
    CHECK(zdtm::allBytes(blocks[i].first, blocks[i].second, static_cast<unsigned char>(i & 0xff)),
          "malloc block %zu (%zu bytes) differs", i, blocks[i].second);
  }
  checkPattern("large malloc block", big, bigBytes, 5);
  checkPattern("sbrk area", brkArea, brkBytes, 6);

  // The heap can still grow: brk continues from where it was.
  CHECK(sbrk(0) == brkBefore, "brk moved: %p, was %p", sbrk(0), brkBefore);
  auto* more = static_cast<char*>(sbrk(64 * kPage));
  if (CHECK(more != reinterpret_cast<char*>(-1), "sbrk cannot grow the heap (errno %d)", errno)) {
    CHECK(more == brkBefore, "sbrk returned %p, want the old break %p", more, brkBefore);
    zdtm::fillPattern(more, 64 * kPage, 7);
    checkPattern("new sbrk area", more, 64 * kPage, 7);
  }
  std::vector<char*> fresh;
  for (size_t i = 0; i < 1000; i++) {
    auto* b = static_cast<char*>(malloc(1000));
    if (!CHECK(b, "malloc after restore failed")) break;
    memset(b, 0x5a, 1000);
    fresh.push_back(b);
  }
  auto* freshBig = static_cast<char*>(malloc(8 << 20));
  if (CHECK(freshBig, "large malloc after restore failed")) {
    zdtm::fillPattern(freshBig, 8 << 20, 8);
    checkPattern("new large malloc block", freshBig, 8 << 20, 8);
  }
  for (auto* b : fresh) free(b);
  free(freshBig);
  for (auto& [b, n] : blocks) free(b);
  free(big);

  // vDSO: at the address in the auxv, and its clocks work.
  auto vdso = zdtm::mappingAt(reinterpret_cast<void*>(vdsoBase));
  if (CHECK(vdso, "no mapping at AT_SYSINFO_EHDR %#lx", vdsoBase))
    CHECK(vdso->path == "[vdso]", "AT_SYSINFO_EHDR %#lx is %s, not [vdso]", vdsoBase,
          vdso->path.c_str());
  timespec monoAfter{}, realAfter{};
  CHECK(clock_gettime(CLOCK_MONOTONIC, &monoAfter) == 0, "clock_gettime(MONOTONIC) failed");
  CHECK(clock_gettime(CLOCK_REALTIME, &realAfter) == 0, "clock_gettime(REALTIME) failed");
  CHECK(monoAfter.tv_sec > monoBefore.tv_sec ||
            (monoAfter.tv_sec == monoBefore.tv_sec && monoAfter.tv_nsec >= monoBefore.tv_nsec),
        "CLOCK_MONOTONIC went back");
  CHECK(realAfter.tv_sec >= realBefore.tv_sec && realAfter.tv_sec < realBefore.tv_sec + 86400,
        "CLOCK_REALTIME jumped: %ld -> %ld", static_cast<long>(realBefore.tv_sec),
        static_cast<long>(realAfter.tv_sec));
  return zdtm::finish();
}
