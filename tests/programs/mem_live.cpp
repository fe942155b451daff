// zdtm: memory written all the time, also while it is dumped. Two threads
// each sweep their own area (argv[1] MiB in all, default 64), writing page
// s % P at step s with words derived from s, and check first that the page
// still holds what step s - P wrote. An image that mixes memory from two
// instants (a page saved after the program wrote it again, next to a
// counter saved before) breaks that chain; after restore every page must
// still match its step, right up to where the counter stands. With argv[2]
// "thp" the areas are 2 MiB-aligned and asked for transparent huge pages.
#include <pthread.h>
#include <sys/mman.h>

#include <cstring>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kWords = kPage / 8;

inline uint64_t wordOf(uint64_t step, size_t i) {
  return step * 0x9e3779b97f4a7c15ULL + i;
}

struct Area {
  uint64_t* mem = nullptr;
  size_t pages = 0;
  volatile uint64_t step = 0;  // the next step; steps below it are written
  uint64_t badPages = 0;
};

volatile sig_atomic_t g_stop = 0;

// Whether page p holds exactly what its last step before `next` wrote.
bool pageHolds(const Area& a, size_t p, uint64_t next) {
  if (next <= p) return true;  // not written yet
  uint64_t last = next - 1 - ((next - 1 - p) % a.pages);
  const uint64_t* w = a.mem + p * kWords;
  for (size_t i = 0; i < kWords; i++)
    if (w[i] != wordOf(last, i)) return false;
  return true;
}

void sweep(Area& a, const volatile sig_atomic_t& stop, uint64_t until = UINT64_MAX) {
  for (uint64_t s = a.step; !stop && s < until; s++) {
    size_t p = s % a.pages;
    if (!pageHolds(a, p, s) && a.badPages++ < 5)
      zdtm::fail("page %zu before step %llu holds other data", p, (unsigned long long)s);
    uint64_t* w = a.mem + p * kWords;
    for (size_t i = 0; i < kWords; i++) w[i] = wordOf(s, i);
    a.step = s + 1;
  }
}

void* sweepOther(void* arg) {
  sweep(*static_cast<Area*>(arg), g_stop);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = argc > 1 ? strtoull(argv[1], nullptr, 10) : 64;
  if (mib < 2) zdtm::die("bad size %s", argc > 1 ? argv[1] : "");
  const bool thp = argc > 2 && strcmp(argv[2], "thp") == 0;
  constexpr size_t kHuge = 2 << 20;
  Area areas[2];
  for (auto& a : areas) {
    size_t bytes = (mib << 20) / 2;
    size_t slack = thp ? kHuge : 0;
    void* p =
        mmap(nullptr, bytes + slack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) zdtm::die("mmap %zu bytes", bytes);
    if (thp) {
      uintptr_t at = (reinterpret_cast<uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
      p = reinterpret_cast<void*>(at);
      if (madvise(p, bytes, MADV_HUGEPAGE) != 0) zdtm::die("madvise(MADV_HUGEPAGE)");
    }
    a.mem = static_cast<uint64_t*>(p);
    a.pages = bytes / kPage;
  }
  // Every page written once before the harness may dump.
  for (auto& a : areas) sweep(a, g_stop, a.pages);
  zdtm::detail::setHandler(SIGUSR1, zdtm::detail::onUsr1Flag, SA_RESTART);
  pthread_t other;
  if (pthread_create(&other, nullptr, sweepOther, &areas[1]) != 0) zdtm::die("pthread_create");
  zdtm::ready();
  sweep(areas[0], zdtm::detail::g_usr1);
  g_stop = 1;
  pthread_join(other, nullptr);
  for (auto& a : areas) {
    uint64_t next = a.step;
    size_t bad = 0;
    for (size_t p = 0; p < a.pages; p++)
      if (!pageHolds(a, p, next) && bad++ < 3) zdtm::fail("page %zu differs at the end", p);
    CHECK(bad == 0 && a.badPages == 0, "%zu pages wrong at the end, %llu during the sweep", bad,
          (unsigned long long)a.badPages);
    CHECK(next >= a.pages, "the area was swept only %llu steps", (unsigned long long)next);
  }
  return zdtm::finish();
}
