// Injected system calls driven by PTRACE_SYSCALL entry/exit stops.
#include "core/ptrace/RemoteSyscalls.hpp"

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/ptrace/RemoteMemory.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {
constexpr long kERestartRestartBlock = 516;
constexpr uint64_t kAllSignals = ~0ull;
constexpr uint64_t kSigtrapBit = 1ull << (SIGTRAP - 1);
}  // namespace

user_regs_struct imageSyscallRegs(const user_regs_struct& regs) {
  user_regs_struct r = regs;
  if ((long)r.orig_rax >= 0 && -(long)r.rax == kERestartRestartBlock) {
    r.rax = r.orig_rax;
    r.rip -= 2;
    r.orig_rax = (uint64_t)-1;
  }
  return r;
}

RemoteSyscalls::RemoteSyscalls(const Tracee& tracee, RemotePtr syscallInsn,
                               const RollbackGadgets* rollback)
    : tracee_(tracee), insn_(syscallInsn) {
  saved_ = tracee_.getRegs();
  savedMask_ = tracee_.getSigmask();
  final_ = saved_;
  finalMask_ = savedMask_;
  base_ = saved_;
  if (rollback) {
    // First the frame, then registers that lead to it, and only then the
    // blocked mask: abandoned at any of these steps, the thread is whole.
    RemoteMemory mem(tracee_.tid());
    if (auto frame = writeRollbackFrame(tracee_, mem, *rollback, saved_, savedMask_)) {
      base_ = frame->idle;
      insn_ = rollback->syscallRet;
      stackScratch_ = frame->scratch;
      tracee_.setRegs(base_);
      touched_ = true;
    }
  }
  // Block everything while we drive the thread, so no handler can run in
  // between injected calls; the original mask comes back in the destructor.
  tracee_.setSigmask(kAllSignals);
}

RemoteSyscalls::~RemoteSyscalls() {
  if (abandoned_) return;
  try {
    // Mask first: until the registers are back, an abandoned thread still
    // has its rollback frame to restore it.
    tracee_.setSigmask(finalMask_);
    tracee_.setRegs(touched_ ? final_ : saved_);
    if (touched_) settle();
  } catch (const Error& e) {
    log::error("restoring tid {} after injected calls: {}", tracee_.tid(), e.what());
  }
}

void RemoteSyscalls::settle() {
  // Once a call ran, the thread sits in a syscall-exit stop, and resuming from
  // there skips the kernel's signal path: an interrupted call (rax =
  // -ERESTART*) would return its internal error code to the program. Move
  // the thread to a ptrace stop taken inside that path (an interrupt is
  // handled before any signal is dequeued, and before the first user
  // instruction); let go from there, the kernel restarts the call or delivers
  // a pending signal exactly as it would have without us.
  pid_t tid = tracee_.tid();
  if (ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) != 0)
    throwErrno(fmt::format("interrupting tid {}", tid));
  if (ptrace(PTRACE_CONT, tid, nullptr, nullptr) != 0)
    throwErrno(fmt::format("resuming tid {} into its signal path", tid));
  for (;;) {
    StopStatus s = waitTracee(tid);
    if (s.kind == StopStatus::Kind::EventStop && s.event == PTRACE_EVENT_STOP) return;
    if (s.kind == StopStatus::Kind::GroupStop) return;
    if (s.kind == StopStatus::Kind::Exited || s.kind == StopStatus::Kind::Signaled)
      throw Error(fmt::format("tid {} died while being let go", tid));
    // Anything else (a signal dequeued first): hand it back and wait on.
    ptrace(PTRACE_CONT, tid, nullptr,
           (void*)(long)(s.kind == StopStatus::Kind::SignalStop ? s.sig : 0));
  }
}

void RemoteSyscalls::setFinalState(const user_regs_struct& regs, uint64_t sigmask) {
  final_ = regs;
  finalMask_ = sigmask;
  touched_ = true;
}

StopStatus RemoteSyscalls::resumeUntil(int request,
                                       const std::function<bool(const StopStatus&)>& wanted) {
  pid_t tid = tracee_.tid();
  for (int spurious = 0;; ++spurious) {
    if (ptrace(__ptrace_request(request), tid, nullptr, nullptr) != 0)
      throwErrno(fmt::format("resuming tid {} for an injected call", tid));
    StopStatus s = waitTracee(tid);
    if (s.kind == StopStatus::Kind::Exited || s.kind == StopStatus::Kind::Signaled || wanted(s))
      return s;
    if (s.kind == StopStatus::Kind::EventStop &&
        (s.event == PTRACE_EVENT_FORK || s.event == PTRACE_EVENT_CLONE ||
         s.event == PTRACE_EVENT_VFORK)) {
      unsigned long child = 0;
      ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &child);
      if (onNewTask_) onNewTask_(pid_t(child));
    }
    // Other stops: only unblockable signals get here (everything else is
    // blocked, SIGTRAP aside): SIGKILL ends us anyway; a SIGSTOP is swallowed
    // (the next resume passes no signal) rather than leaving the thread
    // stopped in the middle of an injected call.
    if (spurious > 100)
      throw Error(fmt::format("tid {}: injected call keeps being interrupted", tid));
  }
}

StopStatus RemoteSyscalls::resumeToSyscallStop() {
  return resumeUntil(PTRACE_SYSCALL,
                     [](const StopStatus& s) { return s.kind == StopStatus::Kind::SyscallStop; });
}

void RemoteSyscalls::useTraps(bool on) {
  tracee_.setSigmask(on ? kAllSignals & ~kSigtrapBit : kAllSignals);
  traps_ = on;
}

void RemoteSyscalls::runToTrap(RemotePtr entry, uint64_t rbx, uint64_t r12, RemotePtr int3At) {
  if (!traps_) throw Error("injected code needs traps on");
  user_regs_struct r = base_;
  r.rip = entry.addr();
  r.orig_rax = (uint64_t)-1;
  r.rbx = rbx;
  r.r12 = r12;
  tracee_.setRegs(r);
  touched_ = true;
  resumeToTrap(int3At.addr(), -1);
}

long RemoteSyscalls::resumeToTrap(uint64_t int3At, long nr) {
  user_regs_struct after{};
  StopStatus s = resumeUntil(PTRACE_CONT, [&](const StopStatus& s) {
    if (s.kind != StopStatus::Kind::SignalStop || s.sig != SIGTRAP) return false;
    after = tracee_.getRegs();
    return after.rip == int3At + 1;
  });
  if (s.kind != StopStatus::Kind::SignalStop)
    throw Error(fmt::format("tid {} died during injected syscall {}", tracee_.tid(), nr));
  return (long)after.rax;
}

long RemoteSyscalls::call(long nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5,
                          uint64_t a6) {
  pid_t tid = tracee_.tid();
  user_regs_struct r = base_;
  r.rip = insn_.addr();
  r.rax = nr;
  r.orig_rax = (uint64_t)-1;  // no syscall restart logic on the way in
  r.rdi = a1;
  r.rsi = a2;
  r.rdx = a3;
  r.r10 = a4;
  r.r8 = a5;
  r.r9 = a6;
  tracee_.setRegs(r);
  touched_ = true;
  if (traps_) return resumeToTrap(insn_.addr() + 2, nr);
  StopStatus entry = resumeToSyscallStop();
  if (entry.kind != StopStatus::Kind::SyscallStop)
    throw Error(fmt::format("tid {} died before injected syscall {}", tid, nr));
  StopStatus exit = resumeToSyscallStop();
  if (exit.kind != StopStatus::Kind::SyscallStop)
    throw Error(fmt::format("tid {} died during injected syscall {}", tid, nr));
  return (long)tracee_.getRegs().rax;
}

long RemoteSyscalls::check(const std::string& what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
                           uint64_t a4, uint64_t a5, uint64_t a6) {
  long r = call(nr, a1, a2, a3, a4, a5, a6);
  if (r < 0 && r > -4096) throw SysError(fmt::format("tid {}: {}", tracee_.tid(), what), int(-r));
  return r;
}

void RemoteSyscalls::callNoReturn(long nr, uint64_t a1) {
  user_regs_struct r = saved_;
  r.rip = insn_.addr();
  r.rax = nr;
  r.orig_rax = (uint64_t)-1;
  r.rdi = a1;
  tracee_.setRegs(r);
  abandoned_ = true;
  for (;;) {
    if (ptrace(PTRACE_CONT, tracee_.tid(), nullptr, nullptr) != 0) {
      if (errno == ESRCH) break;
      throwErrno(fmt::format("resuming tid {} to exit", tracee_.tid()));
    }
    StopStatus s = waitTracee(tracee_.tid());
    if (s.kind == StopStatus::Kind::Exited || s.kind == StopStatus::Kind::Signaled) break;
  }
}

}  // namespace ckpt
