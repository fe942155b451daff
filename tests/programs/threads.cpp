// zdtm: threads. Nine threads (main + 8), each with its own TLS (fs base,
// thread_local values, a counter that keeps advancing), name, signal mask,
// MXCSR, and known values held in ymm0-15 (xmm0-15 without AVX) and r12-r15
// across the dump by a loop written in assembly. One thread holds a robust
// mutex and exits after restore: the kernel must mark it owner-dead (robust
// list restored). pthread_join must work (clear-child-tid restored).
#include <asm/prctl.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <xmmintrin.h>

#include <array>
#include <ctime>

#include "zdtm.hpp"

namespace {

constexpr int kThreads = 8;
constexpr unsigned kMxcsr = 0x7f80;  // all exceptions masked, round toward zero

// Register image for the assembly loop: 16 vector registers of 32 bytes and
// r12-r15. Only the low 16 bytes of each vector are used without AVX.
struct alignas(32) RegImage {
  uint64_t vec[16][4];
  uint64_t gpr[4];
};

std::atomic<int> g_release{0};  // main: leave the register loop
std::atomic<int> g_stop{0};     // main: stop counting and exit
pthread_mutex_t g_robust;

thread_local std::atomic<uint64_t> t_counter{0};
thread_local uint64_t t_values[64];
// Accessed through a pointer: g++ 12 folds t_values[k] == pattern(...) loops
// into a TLS relocation with an addend that does not fit ("relocation
// truncated to fit: R_X86_64_TPOFF32").
[[gnu::noinline]] uint64_t* tlsValues() {
  return t_values;
}

struct Worker {
  int index = 0;
  pthread_t thread{};
  std::atomic<int> phase{0};  // 1: in the register loop, 2: checks done
  std::atomic<std::atomic<uint64_t>*> counter{nullptr};
  pid_t tid = 0;
  unsigned long fsBase = 0;
  void* robustHead = nullptr;
};
std::array<Worker, kThreads> g_workers;

unsigned long fsBase() {
  unsigned long v = 0;
  syscall(SYS_arch_prctl, ARCH_GET_FS, &v);
  return v;
}

void* robustHead(size_t* len) {
  void* head = nullptr;
  syscall(SYS_get_robust_list, 0, &head, len);
  return head;
}

RegImage expectedRegs(int index) {
  RegImage r{};
  for (int v = 0; v < 16; v++)
    for (int q = 0; q < 4; q++) r.vec[v][q] = zdtm::pattern(100 + index, v * 4 + q);
  for (int g = 0; g < 4; g++) r.gpr[g] = zdtm::pattern(200 + index, g);
  return r;
}

// Loads `in` into the registers, spins (pause, or sched_yield when `yield`)
// bumping *counter until *flag != 0, then stores the registers to `out`. No
// call happens in between: whatever the registers hold at the end survived
// the dump and restore.
void holdRegisters(bool avx, const RegImage* in, RegImage* out, const std::atomic<int>* flag,
                   std::atomic<uint64_t>* counter, bool yield) {
  long yieldFlag = yield;
#define LOOP_AND_GPRS \
  "movq 512(%[in]), %%r12\n movq 520(%[in]), %%r13\n"                          \
  "movq 528(%[in]), %%r14\n movq 536(%[in]), %%r15\n"                          \
  "1: incq (%[cnt])\n"                                                         \
  "testq %[yield], %[yield]\n jz 2f\n"                                         \
  "movl $" ZDTM_STR(SYS_sched_yield) ", %%eax\n syscall\n jmp 3f\n"            \
  "2: pause\n"                                                                 \
  "3: cmpl $0, (%[flag])\n je 1b\n"                                            \
  "movq %%r12, 512(%[out])\n movq %%r13, 520(%[out])\n"                        \
  "movq %%r14, 528(%[out])\n movq %%r15, 536(%[out])\n"
#define ZDTM_STR2(x) #x
#define ZDTM_STR(x) ZDTM_STR2(x)
  if (avx) {
    asm volatile(
        "vmovdqu 0*32(%[in]), %%ymm0\n vmovdqu 1*32(%[in]), %%ymm1\n"
        "vmovdqu 2*32(%[in]), %%ymm2\n vmovdqu 3*32(%[in]), %%ymm3\n"
        "vmovdqu 4*32(%[in]), %%ymm4\n vmovdqu 5*32(%[in]), %%ymm5\n"
        "vmovdqu 6*32(%[in]), %%ymm6\n vmovdqu 7*32(%[in]), %%ymm7\n"
        "vmovdqu 8*32(%[in]), %%ymm8\n vmovdqu 9*32(%[in]), %%ymm9\n"
        "vmovdqu 10*32(%[in]), %%ymm10\n vmovdqu 11*32(%[in]), %%ymm11\n"
        "vmovdqu 12*32(%[in]), %%ymm12\n vmovdqu 13*32(%[in]), %%ymm13\n"
        "vmovdqu 14*32(%[in]), %%ymm14\n vmovdqu 15*32(%[in]), %%ymm15\n" LOOP_AND_GPRS
        "vmovdqu %%ymm0, 0*32(%[out])\n vmovdqu %%ymm1, 1*32(%[out])\n"
        "vmovdqu %%ymm2, 2*32(%[out])\n vmovdqu %%ymm3, 3*32(%[out])\n"
        "vmovdqu %%ymm4, 4*32(%[out])\n vmovdqu %%ymm5, 5*32(%[out])\n"
        "vmovdqu %%ymm6, 6*32(%[out])\n vmovdqu %%ymm7, 7*32(%[out])\n"
        "vmovdqu %%ymm8, 8*32(%[out])\n vmovdqu %%ymm9, 9*32(%[out])\n"
        "vmovdqu %%ymm10, 10*32(%[out])\n vmovdqu %%ymm11, 11*32(%[out])\n"
        "vmovdqu %%ymm12, 12*32(%[out])\n vmovdqu %%ymm13, 13*32(%[out])\n"
        "vmovdqu %%ymm14, 14*32(%[out])\n vmovdqu %%ymm15, 15*32(%[out])\n"
        "vzeroupper\n"
        :
        : [in] "r"(in), [out] "r"(out), [flag] "r"(flag), [cnt] "r"(counter), [yield] "r"(yieldFlag)
        : "rax", "rcx", "r11", "r12", "r13", "r14", "r15", "memory", "cc", "xmm0", "xmm1", "xmm2",
          "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15");
  } else {
    asm volatile(
        "movdqu 0*32(%[in]), %%xmm0\n movdqu 1*32(%[in]), %%xmm1\n"
        "movdqu 2*32(%[in]), %%xmm2\n movdqu 3*32(%[in]), %%xmm3\n"
        "movdqu 4*32(%[in]), %%xmm4\n movdqu 5*32(%[in]), %%xmm5\n"
        "movdqu 6*32(%[in]), %%xmm6\n movdqu 7*32(%[in]), %%xmm7\n"
        "movdqu 8*32(%[in]), %%xmm8\n movdqu 9*32(%[in]), %%xmm9\n"
        "movdqu 10*32(%[in]), %%xmm10\n movdqu 11*32(%[in]), %%xmm11\n"
        "movdqu 12*32(%[in]), %%xmm12\n movdqu 13*32(%[in]), %%xmm13\n"
        "movdqu 14*32(%[in]), %%xmm14\n movdqu 15*32(%[in]), %%xmm15\n" LOOP_AND_GPRS
        "movdqu %%xmm0, 0*32(%[out])\n movdqu %%xmm1, 1*32(%[out])\n"
        "movdqu %%xmm2, 2*32(%[out])\n movdqu %%xmm3, 3*32(%[out])\n"
        "movdqu %%xmm4, 4*32(%[out])\n movdqu %%xmm5, 5*32(%[out])\n"
        "movdqu %%xmm6, 6*32(%[out])\n movdqu %%xmm7, 7*32(%[out])\n"
        "movdqu %%xmm8, 8*32(%[out])\n movdqu %%xmm9, 9*32(%[out])\n"
        "movdqu %%xmm10, 10*32(%[out])\n movdqu %%xmm11, 11*32(%[out])\n"
        "movdqu %%xmm12, 12*32(%[out])\n movdqu %%xmm13, 13*32(%[out])\n"
        "movdqu %%xmm14, 14*32(%[out])\n movdqu %%xmm15, 15*32(%[out])\n"
        :
        : [in] "r"(in), [out] "r"(out), [flag] "r"(flag), [cnt] "r"(counter), [yield] "r"(yieldFlag)
        : "rax", "rcx", "r11", "r12", "r13", "r14", "r15", "memory", "cc", "xmm0", "xmm1", "xmm2",
          "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
          "xmm13", "xmm14", "xmm15");
  }
#undef LOOP_AND_GPRS
}

bool avxUsable() {
  return __builtin_cpu_supports("avx");
}

std::string threadName(int index) {
  return "zdtm-t" + std::to_string(index);
}

void checkRegs(int index, bool avx, const RegImage& want, const RegImage& got) {
  int lanes = avx ? 4 : 2;
  for (int v = 0; v < 16; v++)
    for (int q = 0; q < lanes; q++)
      CHECK(got.vec[v][q] == want.vec[v][q], "thread %d: %smm%d qword %d is %#llx, want %#llx",
            index, avx ? "y" : "x", v, q, static_cast<unsigned long long>(got.vec[v][q]),
            static_cast<unsigned long long>(want.vec[v][q]));
  for (int g = 0; g < 4; g++)
    CHECK(got.gpr[g] == want.gpr[g], "thread %d: r%d is %#llx, want %#llx", index, 12 + g,
          static_cast<unsigned long long>(got.gpr[g]),
          static_cast<unsigned long long>(want.gpr[g]));
}

void* workerMain(void* arg) {
  auto& w = *static_cast<Worker*>(arg);
  const int i = w.index;
  w.tid = gettid();
  w.fsBase = fsBase();
  size_t robustLen = 0;
  w.robustHead = robustHead(&robustLen);
  for (int k = 0; k < 64; k++) tlsValues()[k] = zdtm::pattern(300 + i, k);
  pthread_setname_np(pthread_self(), threadName(i).c_str());
  sigset_t own;
  sigemptyset(&own);
  sigaddset(&own, SIGRTMIN + i);
  pthread_sigmask(SIG_BLOCK, &own, nullptr);
  _mm_setcsr(kMxcsr);
  if (i == 0 && pthread_mutex_lock(&g_robust) != 0) zdtm::die("lock robust mutex");
  w.counter.store(&t_counter);

  const bool avx = avxUsable();
  const RegImage want = expectedRegs(i);
  RegImage got{};
  w.phase.store(1);
  holdRegisters(avx, &want, &got, &g_release, &t_counter, i % 2 == 1);

  checkRegs(i, avx, want, got);
  CHECK(gettid() == w.tid, "thread %d: tid %d, was %d", i, gettid(), w.tid);
  CHECK(fsBase() == w.fsBase, "thread %d: fs base %#lx, was %#lx", i, fsBase(), w.fsBase);
  CHECK(w.counter.load() == &t_counter, "thread %d: thread_local counter moved", i);
  for (int k = 0; k < 64; k++)
    CHECK(tlsValues()[k] == zdtm::pattern(300 + i, k), "thread %d: thread_local value %d differs",
          i, k);
  size_t lenNow = 0;
  void* headNow = robustHead(&lenNow);
  CHECK(headNow == w.robustHead && lenNow == robustLen, "thread %d: robust list %p/%zu, was %p/%zu",
        i, headNow, lenNow, w.robustHead, robustLen);
  unsigned csr = _mm_getcsr() & ~0x3fU;  // without the sticky exception flags
  CHECK(csr == kMxcsr, "thread %d: MXCSR %#x, want %#x", i, csr, kMxcsr);
  char name[32] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  CHECK(threadName(i) == name, "thread %d: name \"%s\", want \"%s\"", i, name,
        threadName(i).c_str());
  sigset_t mask;
  pthread_sigmask(SIG_SETMASK, nullptr, &mask);
  for (int j = 0; j < kThreads; j++)
    CHECK(sigismember(&mask, SIGRTMIN + j) == (j == i), "thread %d: SIGRTMIN+%d %sblocked", i, j,
          j == i ? "not " : "");
  CHECK(sigismember(&mask, SIGUSR1), "thread %d: SIGUSR1 not blocked", i);
  w.phase.store(2);

  // Keep running until main has seen everyone finish; thread 0 then exits
  // holding the robust mutex.
  while (!g_stop.load()) t_counter.fetch_add(1, std::memory_order_relaxed);
  return nullptr;
}

double now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Waits (yielding) until pred() holds, at most `seconds`.
template <class Pred>
bool waitFor(Pred pred, double seconds) {
  double end = now() + seconds;
  while (!pred()) {
    if (now() > end) return false;
    sched_yield();
  }
  return true;
}

}  // namespace

int main() {
  pthread_mutexattr_t ma;
  pthread_mutexattr_init(&ma);
  pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&g_robust, &ma);

  // Only main takes SIGUSR1: block it before the threads inherit the mask.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  for (int i = 0; i < kThreads; i++) {
    g_workers[i].index = i;
    if (pthread_create(&g_workers[i].thread, nullptr, workerMain, &g_workers[i]) != 0)
      zdtm::die("pthread_create %d", i);
  }
  if (!waitFor(
          [] {
            for (auto& w : g_workers)
              if (w.phase.load() != 1) return false;
            return true;
          },
          30))
    zdtm::die("threads did not start");
  for (int k = 0; k < 64; k++) tlsValues()[k] = zdtm::pattern(999, k);
  const unsigned long mainFs = fsBase();
  std::array<uint64_t, kThreads> before{};
  for (int i = 0; i < kThreads; i++) before[i] = g_workers[i].counter.load()->load();

  zdtm::readyAndWait(zdtm::Wait::Read);

  // Counters kept their values and the threads still run.
  std::array<uint64_t, kThreads> atSignal{};
  for (int i = 0; i < kThreads; i++) {
    atSignal[i] = g_workers[i].counter.load()->load();
    CHECK(atSignal[i] >= before[i], "thread %d: counter went back from %llu to %llu", i,
          static_cast<unsigned long long>(before[i]), static_cast<unsigned long long>(atSignal[i]));
  }
  for (int i = 0; i < kThreads; i++) {
    auto* c = g_workers[i].counter.load();
    CHECK(waitFor([&] { return c->load() > atSignal[i]; }, 20),
          "thread %d does not run: counter stuck at %llu", i,
          static_cast<unsigned long long>(c->load()));
  }
  CHECK(fsBase() == mainFs, "main: fs base %#lx, was %#lx", fsBase(), mainFs);
  for (int k = 0; k < 64; k++)
    CHECK(tlsValues()[k] == zdtm::pattern(999, k), "main: thread_local value %d differs", k);

  g_release.store(1);
  CHECK(waitFor(
            [] {
              for (auto& w : g_workers)
                if (w.phase.load() != 2) return false;
              return true;
            },
            30),
        "threads did not finish their checks");
  g_stop.store(1);

  for (int i = 0; i < kThreads; i++) {
    timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 20;
    int r = pthread_timedjoin_np(g_workers[i].thread, nullptr, &deadline);
    CHECK(r == 0, "pthread_join of thread %d: %s (clear-child-tid lost?)", i, strerror(r));
  }

  // Thread 0 died holding the robust mutex: the kernel walked its robust list.
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 10;
  int r = pthread_mutex_timedlock(&g_robust, &deadline);
  CHECK(r == EOWNERDEAD, "locking the dead owner's robust mutex: %s, want EOWNERDEAD", strerror(r));
  if (r == EOWNERDEAD) {
    pthread_mutex_consistent(&g_robust);
    pthread_mutex_unlock(&g_robust);
  }
  return zdtm::finish();
}
