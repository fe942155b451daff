// Freezes a process tree: every thread of every descendant seized and stopped,
// repeated until no new process or thread appears. The destructor lets the
// tree run on exactly where it stopped, so a failed dump never harms it.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "core/ptrace/Tracee.hpp"

namespace ckpt {

struct FrozenProcess {
  pid_t pid = 0;
  pid_t ppid = 0;
  bool zombie = false;
  bool stopped = false;         // was in a job-control stop before we came
  std::vector<Tracee> threads;  // threads[0] is the thread group leader
  std::vector<pid_t> children;
};

class TreeFreezer {
 public:
  explicit TreeFreezer(pid_t root) : root_(root) {}
  TreeFreezer(const TreeFreezer&) = delete;
  TreeFreezer& operator=(const TreeFreezer&) = delete;
  ~TreeFreezer();

  // Seizes and stops the tree. Throws (leaving the tree running) if the root
  // is not a process ckpt may checkpoint, or a task cannot be stopped.
  void freeze();
  // Parents before children; processes[0] is the root.
  std::vector<FrozenProcess>& processes() { return processes_; }
  // Kills every process of the tree while it is still stopped, so none runs
  // another instruction after the dump.
  void killAll();
  // Zombie memory snapshots of an earlier, killed ckpt (core/dump/
  // MemorySnapshot.hpp), as (parent, snapshot): not part of the tree.
  const std::vector<std::pair<pid_t, pid_t>>& leftoverSnapshots() const { return leftovers_; }

 private:
  FrozenProcess* find(pid_t pid);
  bool seizeNewThreads(FrozenProcess& p);
  void addChildren(FrozenProcess& p, bool& changed);

  pid_t root_;
  std::vector<FrozenProcess> processes_;
  std::vector<std::pair<pid_t, pid_t>> leftovers_;
};

// Checks that `pid` names a process the caller may checkpoint; throws a clear
// Error otherwise (no such pid, a thread id, pid 1, ckpt itself).
void checkDumpablePid(pid_t pid);

}  // namespace ckpt
