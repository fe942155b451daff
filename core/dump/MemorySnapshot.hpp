// A copy-on-write view of one frozen process's memory, so the tree can run
// on while its pages are written: a child made by an injected clone3 at the
// freeze instant, held stopped under ptrace, never running an instruction of
// the program. The destructor kills it and has the parent reap it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <vector>

#include "core/dump/TreeFreezer.hpp"
#include "core/image/Model.hpp"

namespace ckpt {

class MemorySnapshot {
 public:
  // Null (the process is then dumped frozen) when the snapshot would not
  // hold the process's private pages exactly (MADV_DONTFORK/WIPEONFORK
  // areas), the thread has no rollback frame to run the clone from, or
  // clone3 fails (e.g. no memory under strict overcommit).
  static std::unique_ptr<MemorySnapshot> take(FrozenProcess& fp,
                                              const std::vector<image::Vma>& vmas);
  MemorySnapshot(const MemorySnapshot&) = delete;
  MemorySnapshot& operator=(const MemorySnapshot&) = delete;
  // Kills the snapshot and reaps it from its parent with an injected wait4:
  // call only once the tree runs again (the parent is seized anew).
  ~MemorySnapshot();

  // A zombie snapshot that a ckpt killed mid-dump left to its parent.
  static bool isLeftover(pid_t pid);
  // Reaps, through their frozen parents, the leftovers the freezer set aside.
  static void reapLeftovers(TreeFreezer& freezer);

  // Where to read the private pages (pagemap and process_vm_readv).
  pid_t pid() const { return child_; }

 private:
  MemorySnapshot(pid_t parent, pid_t child) : parent_(parent), child_(child) {}

  pid_t parent_;
  pid_t child_;
};

}  // namespace ckpt
