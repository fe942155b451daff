// A copy-on-write view of one frozen process's memory, so the tree can run
// on while its pages are written: a child made by an injected clone3 at the
// freeze instant, held stopped under ptrace, never running an instruction of
// the program. The destructor kills it and has the parent reap it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "core/dump/TreeFreezer.hpp"
#include "core/image/Model.hpp"
#include "core/ptrace/RemotePtr.hpp"

namespace ckpt {

// A child of a frozen process made by an injected clone3 from its leader,
// held stopped under ptrace (killed with ckpt), never running the program's
// code, named "ckpt-snapshot" so that a later dump knows a zombie left of it.
// The destructor kills it and reaps it with an injected wait4 in the leader,
// which must still be frozen.
class HeldChild {
 public:
  // Nothing when the process has no rollback frame or clone3 fails.
  static std::optional<HeldChild> clone(FrozenProcess& fp, uint64_t flags, const char* what);
  HeldChild(HeldChild&& o) noexcept
      : leader_(o.leader_),
        parent_(o.parent_),
        child_(std::exchange(o.child_, 0)),
        scratch_(o.scratch_) {}
  HeldChild& operator=(HeldChild&&) = delete;
  ~HeldChild();

  pid_t pid() const { return child_; }
  // Free memory of the parent's (and, with CLONE_VM, the child's) stack.
  RemotePtr scratch() const { return scratch_; }
  // The caller ends it instead.
  pid_t release() { return std::exchange(child_, 0); }

 private:
  HeldChild(const Tracee& leader, pid_t parent, pid_t child, RemotePtr scratch)
      : leader_(&leader), parent_(parent), child_(child), scratch_(scratch) {}
  const Tracee* leader_;
  pid_t parent_;
  pid_t child_;
  RemotePtr scratch_;
};

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
