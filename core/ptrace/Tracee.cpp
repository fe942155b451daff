// ptrace attachment of one thread.
#include "core/ptrace/Tracee.hpp"

#include <elf.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <utility>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

#include <fmt/format.h>

namespace ckpt {

StopStatus decodeWaitStatus(int status) {
  StopStatus s;
  if (WIFEXITED(status)) {
    s.kind = StopStatus::Kind::Exited;
    s.sig = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    s.kind = StopStatus::Kind::Signaled;
    s.sig = WTERMSIG(status);
  } else if (WIFSTOPPED(status)) {
    int sig = WSTOPSIG(status);
    int event = (status >> 16) & 0xff;
    if (sig == (SIGTRAP | 0x80)) {
      s.kind = StopStatus::Kind::SyscallStop;
    } else if (event == PTRACE_EVENT_STOP) {
      // An interrupt stop reports SIGTRAP; a group stop reports the stop signal.
      s.kind = (sig == SIGTRAP) ? StopStatus::Kind::EventStop : StopStatus::Kind::GroupStop;
      s.event = event;
      s.sig = sig;
    } else if (event != 0) {
      s.kind = StopStatus::Kind::EventStop;
      s.event = event;
    } else {
      s.kind = StopStatus::Kind::SignalStop;
      s.sig = sig;
    }
  }
  return s;
}

void blockChildStopSignal() {
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &chld, nullptr);
}

StopStatus waitTracee(pid_t tid, int timeoutMs) {
  constexpr int64_t kStolenSigchldNs = 5'000'000;
  // Tracee stops raise SIGCHLD in the tracer: wait for it with a deadline
  // instead of blocking in waitpid forever on a thread that never stops.
  thread_local bool sigchldBlocked = false;
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (!sigchldBlocked) {
    blockChildStopSignal();
    sigchldBlocked = true;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    int status = 0;
    pid_t r = waitpid(tid, &status, __WALL | WNOHANG);
    if (r == tid) return decodeWaitStatus(status);
    if (r < 0 && errno != EINTR) throwErrno(fmt::format("waitpid on tid {}", tid));
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::nanoseconds(0))
      throw Error(
          fmt::format("tid {} did not stop within {} ms (uninterruptible sleep?)", tid, timeoutMs));
    // SIGCHLD is process-wide: a thread of ckpt that does not block it (one
    // made before this thread blocked it) may take it while this one is
    // between waitpid and sigtimedwait. Look again every few milliseconds
    // rather than sleep until the deadline on a signal that is gone.
    auto ns = std::min<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(left).count(),
                                kStolenSigchldNs);
    timespec ts{ns / 1000000000, ns % 1000000000};
    sigtimedwait(&chld, nullptr, &ts);
  }
}

Tracee Tracee::seize(pid_t tid, long options) {
  if (ptrace(PTRACE_SEIZE, tid, nullptr, (void*)options) != 0)
    throwErrno(fmt::format("ptrace seize of tid {}", tid));
  return Tracee(tid);
}

Tracee Tracee::adopt(pid_t tid) {
  return Tracee(tid);
}

Tracee::Tracee(Tracee&& o) noexcept : tid_(std::exchange(o.tid_, 0)) {}

Tracee& Tracee::operator=(Tracee&& o) noexcept {
  if (this != &o) {
    if (tid_) detach();
    tid_ = std::exchange(o.tid_, 0);
  }
  return *this;
}

Tracee::~Tracee() {
  if (tid_) detach();
}

bool Tracee::interruptAndWait() {
  if (ptrace(PTRACE_INTERRUPT, tid_, nullptr, nullptr) != 0) {
    if (errno == ESRCH) return false;
    throwErrno(fmt::format("ptrace interrupt of tid {}", tid_));
  }
  for (;;) {
    StopStatus s = waitTracee(tid_);
    switch (s.kind) {
      case StopStatus::Kind::Exited:
      case StopStatus::Kind::Signaled:
        tid_ = 0;
        return false;
      case StopStatus::Kind::EventStop:
        if (s.event == PTRACE_EVENT_STOP) return true;
        // Another event (exit, exec, ...): let it go on; the interrupt is still pending.
        if (s.event == PTRACE_EVENT_EXIT) {
          ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
          continue;
        }
        ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
        continue;
      case StopStatus::Kind::GroupStop:
        return true;
      case StopStatus::Kind::SignalStop:
        // Deliver the signal as if nobody watched; the interrupt stays pending.
        ptrace(PTRACE_CONT, tid_, nullptr, (void*)(long)s.sig);
        continue;
      case StopStatus::Kind::SyscallStop:
        ptrace(PTRACE_CONT, tid_, nullptr, nullptr);
        continue;
    }
  }
}

user_regs_struct Tracee::getRegs() const {
  user_regs_struct regs{};
  iovec iov{&regs, sizeof regs};
  if (ptrace(PTRACE_GETREGSET, tid_, (void*)NT_PRSTATUS, &iov) != 0)
    throwErrno(fmt::format("reading registers of tid {}", tid_));
  return regs;
}

void Tracee::setRegs(const user_regs_struct& regs) const {
  iovec iov{const_cast<user_regs_struct*>(&regs), sizeof regs};
  if (ptrace(PTRACE_SETREGSET, tid_, (void*)NT_PRSTATUS, &iov) != 0)
    throwErrno(fmt::format("setting registers of tid {}", tid_));
}

std::vector<uint8_t> Tracee::getXstate() const {
  std::vector<uint8_t> buf(64 * 1024);
  iovec iov{buf.data(), buf.size()};
  if (ptrace(PTRACE_GETREGSET, tid_, (void*)NT_X86_XSTATE, &iov) != 0)
    throwErrno(fmt::format("reading FPU/AVX state of tid {}", tid_));
  buf.resize(iov.iov_len);
  return buf;
}

void Tracee::setXstate(const std::vector<uint8_t>& xstate) const {
  iovec iov{const_cast<uint8_t*>(xstate.data()), xstate.size()};
  if (ptrace(PTRACE_SETREGSET, tid_, (void*)NT_X86_XSTATE, &iov) != 0)
    throwErrno(fmt::format("setting FPU/AVX state of tid {}", tid_));
}

uint64_t Tracee::getSigmask() const {
  uint64_t mask = 0;
  if (ptrace(PTRACE_GETSIGMASK, tid_, (void*)sizeof mask, &mask) != 0)
    throwErrno(fmt::format("reading signal mask of tid {}", tid_));
  return mask;
}

void Tracee::setSigmask(uint64_t mask) const {
  if (ptrace(PTRACE_SETSIGMASK, tid_, (void*)sizeof mask, &mask) != 0)
    throwErrno(fmt::format("setting signal mask of tid {}", tid_));
}

std::vector<std::vector<uint8_t>> Tracee::peekPendingSignals(bool shared) const {
  std::vector<std::vector<uint8_t>> out;
  for (uint64_t off = 0;; ++off) {
    __ptrace_peeksiginfo_args args{off, shared ? uint32_t(PTRACE_PEEKSIGINFO_SHARED) : 0u, 1};
    std::vector<uint8_t> info(sizeof(siginfo_t));
    long n = ptrace(PTRACE_PEEKSIGINFO, tid_, &args, info.data());
    if (n < 0) throwErrno(fmt::format("reading pending signals of tid {}", tid_));
    if (n == 0) break;
    out.push_back(std::move(info));
  }
  return out;
}

void Tracee::setOptions(long options) const {
  if (ptrace(PTRACE_SETOPTIONS, tid_, nullptr, (void*)options) != 0)
    throwErrno(fmt::format("setting ptrace options of tid {}", tid_));
}

void Tracee::detach() {
  if (tid_ && ptrace(PTRACE_DETACH, tid_, nullptr, nullptr) != 0 && errno != ESRCH)
    log::warn("detaching from tid {}: {}", tid_, std::strerror(errno));
  tid_ = 0;
}

}  // namespace ckpt
