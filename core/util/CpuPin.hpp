// Pins the calling thread of ckpt to one CPU for a scope, and gives the
// affinity it had back at the end. Injected system calls are several times
// faster when ckpt and the thread it drives wake on the same CPU
// (NOTES-core.md).
#pragma once

#include <sched.h>
#include <sys/types.h>

namespace ckpt {

class CpuPin {
 public:
  // The CPU ckpt runs on now, or `cpu` when given (>= 0).
  explicit CpuPin(int cpu = -1) {
    if (sched_getaffinity(0, sizeof before_, &before_) != 0) return;
    if (cpu < 0) cpu = sched_getcpu();
    if (cpu < 0 || !CPU_ISSET(cpu, &before_)) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pinned_ = sched_setaffinity(0, sizeof one, &one) == 0;
  }
  ~CpuPin() {
    if (pinned_) sched_setaffinity(0, sizeof before_, &before_);
  }
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  // Gives `tid` the affinity ckpt had before (tasks ckpt created while pinned).
  void unpin(pid_t tid) {
    if (pinned_) sched_setaffinity(tid, sizeof before_, &before_);
  }

 private:
  cpu_set_t before_{};
  bool pinned_ = false;
};

}  // namespace ckpt
