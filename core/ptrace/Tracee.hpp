// One ptrace-attached thread: seize, interrupt, wait for stops, registers,
// signal mask, detach. The attachment is released in the destructor.
#pragma once

#include <sys/types.h>
#include <sys/user.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace ckpt {

// What a waitpid() on a tracee reported.
struct StopStatus {
  enum class Kind { Exited, Signaled, SyscallStop, EventStop, GroupStop, SignalStop };
  Kind kind = Kind::Exited;
  int sig = 0;    // signal of a signal-delivery-stop, or exit status / fatal signal
  int event = 0;  // PTRACE_EVENT_* of an event stop
};

StopStatus decodeWaitStatus(int status);
// Waits for the next stop (or exit) of one tracee; throws after `timeoutMs`
// so a wedged tracee can never hang ckpt.
StopStatus waitTracee(pid_t tid, int timeoutMs = 10000);
// Blocks SIGCHLD in the calling thread, as waitTracee does: call it before
// making threads, which then inherit the mask and cannot take a tracee's
// SIGCHLD that waitTracee waits for.
void blockChildStopSignal();

class Tracee {
 public:
  // Attaches with PTRACE_SEIZE (the thread keeps running until interrupted).
  static Tracee seize(pid_t tid, long options);
  // Adopts a thread that is already attached (auto-attached clone children).
  static Tracee adopt(pid_t tid);

  Tracee(Tracee&& o) noexcept;
  Tracee& operator=(Tracee&& o) noexcept;
  Tracee(const Tracee&) = delete;
  Tracee& operator=(const Tracee&) = delete;
  ~Tracee();  // detaches (if still attached) without a signal

  pid_t tid() const { return tid_; }
  // PTRACE_INTERRUPT and wait until the thread is in a stop. Signals that
  // arrive first are passed on to the thread (it may run a handler) so none
  // is lost. Returns false if the thread exited meanwhile.
  bool interruptAndWait();

  user_regs_struct getRegs() const;
  void setRegs(const user_regs_struct& regs) const;
  std::vector<uint8_t> getXstate() const;
  void setXstate(const std::vector<uint8_t>& xstate) const;
  uint64_t getSigmask() const;
  void setSigmask(uint64_t mask) const;
  // Pending signals, in queue order; `shared` selects the process-wide queue.
  std::vector<std::vector<uint8_t>> peekPendingSignals(bool shared) const;
  void setOptions(long options) const;

  // Resumes the thread (signal 0) and forgets it.
  void detach();
  // Forgets the thread without touching it (it exited, or was killed).
  void release() { tid_ = 0; }

 private:
  explicit Tracee(pid_t tid) : tid_(tid) {}
  pid_t tid_ = 0;
};

}  // namespace ckpt
