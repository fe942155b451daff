// zdtm: mappings that change all the time, also while they are dumped (a
// leave-running dump copies memory while the program runs). One thread keeps
// a table of anonymous areas and, without pause: maps a new one and fills it,
// unmaps one, moves or grows one with mremap, makes one read-only and
// writable again, drops one's pages with MADV_DONTNEED, rewrites one. Each
// entry says what its pages hold, and is marked busy while it changes. The
// table is memory too: in an image of one instant every entry that is not
// busy matches its area, page for page. SIGUSR1: stop, check every area.
#include <pthread.h>
#include <sys/mman.h>

#include <atomic>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSlots = 48;
constexpr size_t kMaxPages = 256;

struct Slot {
  char* addr = nullptr;
  size_t pages = 0;
  uint64_t seed = 0;
  bool zero = false;  // its pages were dropped: they read as zeros
  bool used = false;
  std::atomic<bool> busy{false};
};

Slot g_slots[kSlots];
std::atomic<bool> g_stop{false};
std::atomic<uint64_t> g_ops{0};

uint64_t next(uint64_t& x) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x;
}

char* mapArea(size_t pages) {
  void* p =
      mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) zdtm::die("mmap %zu pages", pages);
  return static_cast<char*>(p);
}

void* churn(void*) {
  uint64_t rng = 0x2545f4914f6cdd1dULL, seed = 1;
  while (!g_stop.load()) {
    Slot& s = g_slots[next(rng) % kSlots];
    s.busy.store(true);
    if (!s.used) {
      s.pages = 1 + next(rng) % kMaxPages;
      s.addr = mapArea(s.pages);
      s.seed = ++seed;
      zdtm::fillPattern(s.addr, s.pages * kPage, s.seed);
      s.zero = false;
      s.used = true;
    } else {
      switch (next(rng) % 6) {
        case 0:  // unmap
          munmap(s.addr, s.pages * kPage);
          s.used = false;
          break;
        case 1: {  // move (and maybe grow): new pages are refilled with the old ones
          size_t pages = s.pages + next(rng) % 8;
          void* p = mremap(s.addr, s.pages * kPage, pages * kPage, MREMAP_MAYMOVE);
          if (p == MAP_FAILED) zdtm::die("mremap");
          s.addr = static_cast<char*>(p);
          s.pages = pages;
          s.seed = ++seed;
          zdtm::fillPattern(s.addr, s.pages * kPage, s.seed);
          s.zero = false;
          break;
        }
        case 2:  // read-only for a moment
          if (mprotect(s.addr, s.pages * kPage, PROT_READ) != 0) zdtm::die("mprotect");
          if (mprotect(s.addr, s.pages * kPage, PROT_READ | PROT_WRITE) != 0) zdtm::die("mprotect");
          break;
        case 3:  // pages dropped
          if (madvise(s.addr, s.pages * kPage, MADV_DONTNEED) != 0) zdtm::die("madvise");
          s.zero = true;
          break;
        default:  // rewritten
          s.seed = ++seed;
          zdtm::fillPattern(s.addr, s.pages * kPage, s.seed);
          s.zero = false;
          break;
      }
    }
    s.busy.store(false);
    g_ops.fetch_add(1);
  }
  return nullptr;
}

}  // namespace

int main() {
  zdtm::detail::setHandler(SIGUSR1, zdtm::detail::onUsr1Flag, SA_RESTART);
  pthread_t t;
  if (pthread_create(&t, nullptr, churn, nullptr) != 0) zdtm::die("pthread_create");
  while (g_ops.load() < 1000) usleep(1000);
  zdtm::ready();
  while (!zdtm::detail::g_usr1) usleep(1000);
  g_stop.store(true);
  pthread_join(t, nullptr);
  size_t checked = 0;
  for (size_t i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (!s.used || s.busy.load()) continue;
    auto m = zdtm::mappingAt(s.addr);
    if (!CHECK(m.has_value(), "slot %zu: no mapping at %p", i, (void*)s.addr)) continue;
    const size_t bytes = s.pages * kPage;
    if (s.zero)
      CHECK(zdtm::allBytes(s.addr, bytes, 0), "slot %zu (%zu pages): dropped pages hold data", i,
            s.pages);
    else
      CHECK(zdtm::findPatternMismatch(s.addr, bytes, s.seed) < 0,
            "slot %zu (%zu pages at %p): byte %ld differs from its pattern", i, s.pages,
            (void*)s.addr, zdtm::findPatternMismatch(s.addr, bytes, s.seed));
    ++checked;
  }
  CHECK(checked > 0, "no area to check");
  return zdtm::finish();
}
