// SysV semaphore sets and message queues of a dump. Which belong to it: the
// ones that a process of the tree used last (a semaphore's sempid, a queue's
// last sender or receiver is in the tree); the kernel keeps no creator pid
// for them. They come back with the same id, key, owner and mode, right
// after the tree is built, and are changed from inside the processes that
// used them last, so those pids stay as they were.
#pragma once

#include <sys/types.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"

namespace ckpt {

class TreeBuilder;
class RemoteSyscalls;
struct ScratchLayout;

namespace ipc {

// The live pids of a dump (zombies use nothing).
std::set<pid_t> treePids(const image::Image& img);

// SysvSem.cpp: the sets, and a refusal for processes holding SEM_UNDO state.
void dumpSysvSems(image::Image& img);
// SysvMsg.cpp: the queues with every message (read with MSG_COPY: the queue
// keeps them).
void dumpSysvMsgs(image::Image& img, image::ImageWriter& writer);

// Runs `create` with /proc/sys/kernel/<kind>_next_id ("shm", "sem", "msg")
// set to `id`, so the object it makes gets that id; returns its result with
// errno as create left it.
int createWithId(const char* kind, int id, const std::function<int()>& create);

// Objects a restore created: removed again if it fails, kept by keep().
class CreatedSysvObjects {
 public:
  CreatedSysvObjects() = default;
  ~CreatedSysvObjects();
  CreatedSysvObjects(const CreatedSysvObjects&) = delete;
  CreatedSysvObjects& operator=(const CreatedSysvObjects&) = delete;
  void addSem(int id) { sems_.push_back(id); }
  void addMsg(int id) { msgs_.push_back(id); }
  void keep() { kept_ = true; }

 private:
  std::vector<int> sems_, msgs_;
  bool kept_ = false;
};

// The injected-call session of the live process `pid` of the tree, or null
// when it is not one (outside the tree, a zombie): then ckpt does it itself.
RemoteSyscalls* sessionOf(TreeBuilder& tree, pid_t pid);

void restoreSysvSems(const image::Image& img, TreeBuilder& tree, CreatedSysvObjects& created);
void restoreSysvMsgs(const image::Image& img, const std::string& imageDir, TreeBuilder& tree,
                     const ScratchLayout& scratch, CreatedSysvObjects& created);

}  // namespace ipc
}  // namespace ckpt
