// Recreates the process tree as stopped stubs with the saved pids: the root
// from ckpt itself, every other process by an injected clone3 (set_tid) in its
// parent, sessions and process groups as they were, zombies made to exit with
// their saved status.
#pragma once

#include <sys/types.h>

#include <deque>
#include <functional>
#include <map>

#include "core/image/Model.hpp"
#include "core/restore/RestoredProcess.hpp"

namespace ckpt {

class TreeBuilder {
 public:
  TreeBuilder(const image::Image& img, const ScratchLayout& scratch)
      : img_(img), scratch_(scratch) {}
  // On failure (or if not disarmed) every stub created so far is killed.
  ~TreeBuilder();

  // Called for each process right after it became a session leader, before
  // any of its children exists (a controlling terminal is inherited).
  void onSessionLeader(std::function<void(RestoredProcess&)> f) { sessionLeader_ = std::move(f); }
  void build();
  std::deque<RestoredProcess>& processes() { return procs_; }
  RestoredProcess& byPid(pid_t pid);
  // Creates thread `tid` in `p` (an injected clone3 with CLONE_THREAD).
  Tracee& createThread(RestoredProcess& p, pid_t tid);
  // The tree is running on its own: nothing to kill any more.
  void disarm() { armed_ = false; }
  void killAll();

 private:
  void spawnRoot();
  void spawnChild(RestoredProcess& parent, const image::Process& child);
  void setupGroups();
  void exitZombies();
  pid_t cloneInto(RestoredProcess& parent, pid_t tid, uint64_t flags, int exitSignal);

  const image::Image& img_;
  ScratchLayout scratch_;
  std::deque<RestoredProcess> procs_;
  bool armed_ = true;
  std::function<void(RestoredProcess&)> sessionLeader_;
};

// Waits (a few seconds at most, saying so) until `pid` can be taken again,
// or throws an Error naming who holds it.
void waitPidFree(pid_t pid);

}  // namespace ckpt
