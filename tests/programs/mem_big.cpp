// zdtm: a large anonymous area (argv[1] MiB, default 1024) filled with a
// position-dependent pattern; every word is verified after restore.
#include <sys/mman.h>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kWords = kPage / 8;

uint64_t xorshift(uint64_t x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}
// Word w of page p: cheap to compute, different for every page and word.
inline uint64_t wordAt(uint64_t pageSeed, size_t w) {
  return pageSeed ^ (w * 0x9e3779b97f4a7c15ULL);
}
inline uint64_t pageSeed(size_t page) {
  return xorshift(page * 2654435761ULL + 0x1234567ULL);
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], nullptr, 10) : 1024;
  if (mib == 0) zdtm::die("bad size %s", argv[1]);
  const size_t bytes = mib << 20;
  const size_t pages = bytes / kPage;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) zdtm::die("mmap %zu MiB", mib);
  auto* mem = static_cast<uint64_t*>(p);
  for (size_t pg = 0; pg < pages; pg++) {
    uint64_t s = pageSeed(pg);
    uint64_t* w = mem + pg * kWords;
    for (size_t i = 0; i < kWords; i++) w[i] = wordAt(s, i);
  }

  zdtm::readyAndWait(zdtm::Wait::Sigwaitinfo);

  size_t badPages = 0;
  for (size_t pg = 0; pg < pages; pg++) {
    uint64_t s = pageSeed(pg);
    const uint64_t* w = mem + pg * kWords;
    for (size_t i = 0; i < kWords; i++) {
      if (w[i] != wordAt(s, i)) {
        if (badPages < 5) zdtm::fail("page %zu (of %zu) differs at word %zu", pg, pages, i);
        badPages++;
        break;
      }
    }
  }
  CHECK(badPages == 0, "%zu of %zu pages differ", badPages, pages);
  auto m = zdtm::mappingAt(mem);
  if (CHECK(m, "the area is not mapped"))
    CHECK(m->end - reinterpret_cast<uintptr_t>(mem) >= bytes && m->perms == "rw-p",
          "the area's mapping changed: %s, %zu bytes", m->perms.c_str(),
          static_cast<size_t>(m->end - reinterpret_cast<uintptr_t>(mem)));
  return zdtm::finish();
}
