// zdtm: memory that changes a little between checkpoints, for incremental
// dumps. argv[1] MiB of patterned pages; each SIGUSR2 rewrites every 100th
// page (1%) with the next generation's pattern and prints "changed N" to
// stdout once done. SIGUSR1: every page must hold its latest generation.
#include <sys/mman.h>

#include "zdtm.hpp"

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kEvery = 100;

uint64_t seedOf(size_t page, unsigned generation) {
  return (uint64_t(generation) << 32) | page;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? strtoull(argv[1], nullptr, 10) : 32;
  const size_t pages = mib * 256;
  auto* mem = static_cast<char*>(
      mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED) zdtm::die("mmap %zu MiB", mib);
  for (size_t p = 0; p < pages; ++p) zdtm::fillPattern(mem + p * kPage, kPage, seedOf(p, 0));

  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  zdtm::ready();
  unsigned generation = 0;
  for (;;) {
    siginfo_t si;
    const int sig = sigwaitinfo(&set, &si);
    if (sig < 0) {
      if (errno == EINTR) continue;
      zdtm::die("sigwaitinfo");
    }
    if (sig == SIGUSR1) break;
    ++generation;
    for (size_t p = 0; p < pages; p += kEvery)
      zdtm::fillPattern(mem + p * kPage, kPage, seedOf(p, generation));
    char line[32];
    const int n = snprintf(line, sizeof line, "changed %u\n", generation);
    if (write(STDOUT_FILENO, line, size_t(n)) != n) zdtm::die("write");
  }
  size_t bad = 0;
  for (size_t p = 0; p < pages; ++p) {
    const unsigned want = p % kEvery == 0 ? generation : 0;
    if (zdtm::findPatternMismatch(mem + p * kPage, kPage, seedOf(p, want)) >= 0 && bad++ < 5)
      zdtm::fail("page %zu does not hold generation %u", p, want);
  }
  CHECK(bad == 0, "%zu pages differ", bad);
  return zdtm::finish();
}
