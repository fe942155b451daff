// Runs system calls inside a stopped tracee (in the style of rr's
// AutoRemoteSyscalls). The thread executes a `syscall` instruction found in its
// own address space, driven by PTRACE_SYSCALL stops: no code is written into
// the program and no signal (SIGTRAP) is raised, so its signal state stays as it
// was. Restore's stubs, whose memory is ckpt's to write, can instead run
// `syscall; int3` (useTraps): one stop a call instead of two. The destructor
// puts the registers and signal mask back, on every path.
// With rollback gadgets (dump), the session is also safe to abandon: should
// ckpt die in the middle, the thread restores its own context (RollbackFrame).
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <functional>
#include <string>

#include "core/ptrace/RemotePtr.hpp"
#include "core/ptrace/RollbackFrame.hpp"
#include "core/ptrace/Tracee.hpp"

namespace ckpt {

class RemoteSyscalls {
 public:
  // `tracee` must be in a ptrace stop. `syscallInsn` is the address of a
  // `syscall` instruction (0f 05) in the tracee. With `rollback`, calls run
  // from a rollback frame when the thread's stack has room for one.
  RemoteSyscalls(const Tracee& tracee, RemotePtr syscallInsn,
                 const RollbackGadgets* rollback = nullptr);
  RemoteSyscalls(const RemoteSyscalls&) = delete;
  RemoteSyscalls& operator=(const RemoteSyscalls&) = delete;
  ~RemoteSyscalls();

  // Returns the raw result: negative errno on failure.
  long call(long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0, uint64_t a4 = 0,
            uint64_t a5 = 0, uint64_t a6 = 0);
  // Like call(), but throws an Error naming `what`, the tid and the errno on failure.
  long check(const std::string& what, long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
             uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);
  // Runs a call that does not return to the caller (exit_group); waits for the exit.
  void callNoReturn(long nr, uint64_t a1 = 0);

  void setSyscallInsn(RemotePtr insn) { insn_ = insn; }
  // Restore's stubs: the `syscall` is followed by an int3 (0f 05 cc, in an
  // area ckpt wrote), and a call costs one stop, the trap after it, instead
  // of two (syscall entry and exit): a round trip between ckpt and the
  // thread less, which is most of what a call costs on a busy machine.
  // SIGTRAP stays unblocked meanwhile, so the kernel need not force it (a
  // forced SIGTRAP unblocks itself and resets its handler); and its handler
  // must not be SIG_IGN yet, nor a SIGTRAP of the program's own pending.
  void useTraps(bool on);
  // With traps: runs code the caller wrote into the tracee, from `entry`
  // with rbx and r12 as given, until it stops at the int3 at `int3At`.
  void runToTrap(RemotePtr entry, uint64_t rbx, uint64_t r12, RemotePtr int3At);
  // Called for every PTRACE_EVENT_FORK/CLONE/VFORK stop met during a call,
  // with the new task's id (already attached, stopped or about to stop).
  void onNewTask(std::function<void(pid_t)> fn) { onNewTask_ = std::move(fn); }

  const user_regs_struct& savedRegs() const { return saved_; }
  // Free stack memory of this thread for call arguments (rollback frame
  // sessions only; null otherwise).
  RemotePtr stackScratch() const { return stackScratch_; }
  uint64_t savedSigmask() const { return savedMask_; }
  // At the end, set these registers and this mask instead of the saved ones.
  void setFinalState(const user_regs_struct& regs, uint64_t sigmask);
  // At the end, leave the thread as it is (it exited, or the caller owns it).
  void abandon() { abandoned_ = true; }

 private:
  // Resumes with `request` (PTRACE_SYSCALL, PTRACE_CONT) until the thread
  // exits or stops as `wanted` says, passing on the tasks it creates.
  StopStatus resumeUntil(int request, const std::function<bool(const StopStatus&)>& wanted);
  StopStatus resumeToSyscallStop();
  // Resumes until the trap of the int3 at `int3At`; returns rax then.
  long resumeToTrap(uint64_t int3At, long nr);
  void settle();

  const Tracee& tracee_;
  RemotePtr insn_;
  user_regs_struct saved_{};
  user_regs_struct base_{};  // what injected calls start from: saved_, or the rollback frame's
  RemotePtr stackScratch_;
  uint64_t savedMask_ = 0;
  user_regs_struct final_{};
  uint64_t finalMask_ = 0;
  bool touched_ = false;
  bool abandoned_ = false;
  bool traps_ = false;
  std::function<void(pid_t)> onNewTask_;
};

// Registers to keep in an image for a thread stopped inside an interrupted
// system call. -ERESTARTSYS/NOINTR/NOHAND stay as they are: the restored
// thread is let go from a ptrace stop taken on the kernel's signal path
// (RemoteSyscalls settles it there), so the kernel restarts the call, or
// returns EINTR when a handler runs, exactly as it would have. Only
// -ERESTART_RESTARTBLOCK needs help: its restart block (the time left of a
// nanosleep) does not survive, so the original call is run again.
user_regs_struct imageSyscallRegs(const user_regs_struct& regs);

}  // namespace ckpt
