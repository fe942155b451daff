// zdtm: patterned anonymous memory (argv[2] MiB, default 64) checked in ways
// that matter while a lazy restore is still bringing pages in. argv[1]:
//   threads  four threads verify interleaved pages at once, and write to
//            some, while the page server answers them all
//   fork     the process forks at once; child and parent each verify all
//   zap      part is MADV_DONTNEED'd (must read zero, not the old bytes),
//            part munmap'd (gone), part mremap'd (its bytes move with it)
//   huge     the area is 2 MiB aligned and MADV_HUGEPAGE; it must be whole
//            and back on huge pages (smaps AnonHugePages > 0)
#include <sys/mman.h>
#include <sys/wait.h>

#include <cstring>
#include <thread>
#include <vector>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr uint64_t kSeed = 0x1a2b;

char* mapArea(size_t bytes, bool huge) {
  const size_t align = huge ? (2u << 20) : kPage;
  void* p =
      mmap(nullptr, bytes + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) zdtm::die("mmap %zu bytes", bytes);
  auto at = (reinterpret_cast<uintptr_t>(p) + align - 1) & ~(align - 1);
  if (huge && madvise(reinterpret_cast<void*>(at), bytes, MADV_HUGEPAGE) != 0)
    zdtm::die("madvise(MADV_HUGEPAGE)");
  return reinterpret_cast<char*>(at);
}

// Pages [from, to) hold the pattern of their place in the area.
void verify(const char* area, size_t from, size_t to, const char* who) {
  for (size_t pg = from; pg < to; pg++) {
    long bad = zdtm::findPatternMismatch(area + pg * kPage, kPage, kSeed + pg);
    if (bad >= 0) {
      zdtm::fail("%s: page %zu differs at byte %ld", who, pg, bad);
      return;
    }
  }
}

void fillAll(char* area, size_t pages) {
  for (size_t pg = 0; pg < pages; pg++) zdtm::fillPattern(area + pg * kPage, kPage, kSeed + pg);
}

uint64_t anonHugeKb(const char* area) {
  auto smaps = zdtm::readFile("/proc/self/smaps");
  if (!smaps) return 0;
  char head[32];
  snprintf(head, sizeof head, "%lx-", reinterpret_cast<unsigned long>(area));
  size_t at = smaps->find(std::string("\n") + head);
  if (at == std::string::npos && smaps->rfind(head, 0) != 0) return 0;
  size_t field = smaps->find("AnonHugePages:", at == std::string::npos ? 0 : at);
  if (field == std::string::npos) return 0;
  return strtoull(smaps->c_str() + field + 14, nullptr, 10);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "threads";
  const size_t mib = argc > 2 ? strtoull(argv[2], nullptr, 10) : 64;
  const size_t bytes = mib << 20, pages = bytes / kPage;
  char* area = mapArea(bytes, mode == "huge");
  fillAll(area, pages);

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  if (mode == "threads") {
    constexpr int kThreads = 4;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++)
      threads.emplace_back([=] {
        // Interleaved, from both ends: faults of all threads overlap.
        for (size_t i = 0; i < pages; i++) {
          size_t pg = (t % 2 ? pages - 1 - i : i);
          if (pg % kThreads != size_t(t) && pg % 7 != 0) continue;
          verify(area, pg, pg + 1, "thread");
          if (pg % 13 == 0) *(volatile char*)(area + pg * kPage + 8) = area[pg * kPage + 8];
        }
      });
    for (auto& th : threads) th.join();
    verify(area, 0, pages, "after the threads");
  } else if (mode == "fork") {
    pid_t child = fork();
    if (child < 0) zdtm::die("fork");
    if (child == 0) {
      verify(area, 0, pages, "child");
      _exit(zdtm::g_failures ? 1 : 0);
    }
    verify(area, 0, pages, "parent");
    int st = 0;
    waitpid(child, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the child forked after restore saw wrong memory");
  } else if (mode == "zap") {
    // Quarters: [0] kept, [1] zapped, [2] unmapped, [3] moved away.
    const size_t q = pages / 4;
    CHECK(madvise(area + q * kPage, q * kPage, MADV_DONTNEED) == 0, "madvise(DONTNEED)");
    CHECK(munmap(area + 2 * q * kPage, q * kPage) == 0, "munmap");
    void* dest = mmap(nullptr, q * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    void* moved =
        mremap(area + 3 * q * kPage, q * kPage, q * kPage, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    if (CHECK(moved != MAP_FAILED, "mremap: %s", strerror(errno))) {
      auto* m = static_cast<const char*>(moved);
      for (size_t pg = 0; pg < q; pg++) {
        long bad = zdtm::findPatternMismatch(m + pg * kPage, kPage, kSeed + 3 * q + pg);
        if (!CHECK(bad < 0, "moved page %zu differs at byte %ld", pg, bad)) break;
      }
    }
    verify(area, 0, q, "kept quarter");
    CHECK(zdtm::allBytes(area + q * kPage, q * kPage, 0),
          "the zapped quarter holds old bytes instead of zeros");
    CHECK(zdtm::faults(area + 2 * q * kPage, false), "the unmapped quarter is still mapped");
  } else if (mode == "huge") {
    verify(area, 0, pages, "huge area");
    CHECK(anonHugeKb(area) > 0, "the area has no huge pages after restore");
  } else {
    zdtm::die("unknown mode %s", mode.c_str());
  }
  return zdtm::finish();
}
