// What SysV semaphores and message queues share: the tree's pids, ids given
// through <kind>_next_id, and removing what a failed restore created.
#include "core/ipc/SysvIpc.hpp"

#include <sys/msg.h>
#include <sys/sem.h>

#include <cerrno>
#include <fstream>

#include <fmt/format.h>

#include "core/restore/TreeBuilder.hpp"
#include "core/util/Error.hpp"

namespace ckpt::ipc {

std::set<pid_t> treePids(const image::Image& img) {
  std::set<pid_t> out;
  for (const auto& p : img.processes)
    if (!p.zombie) out.insert(p.pid);
  return out;
}

int createWithId(const char* kind, int id, const std::function<int()>& create) {
  std::string next = std::string("/proc/sys/kernel/") + kind + "_next_id";
  {
    std::ofstream f(next);
    f << id;
    f.flush();
    if (!f)
      throw Error(
          fmt::format("cannot write {} (needs root, or CAP_CHECKPOINT_RESTORE in the IPC "
                      "namespace's user namespace) to give SysV object {} its id",
                      next, id));
  }
  int got = create();
  int err = errno;
  std::ofstream(next) << -1;
  errno = err;
  return got;
}

CreatedSysvObjects::~CreatedSysvObjects() {
  if (kept_) return;
  for (int id : sems_) semctl(id, 0, IPC_RMID);
  for (int id : msgs_) msgctl(id, IPC_RMID, nullptr);
}

RemoteSyscalls* sessionOf(TreeBuilder& tree, pid_t pid) {
  if (pid <= 0) return nullptr;
  for (auto& p : tree.processes())
    if (p.pid == pid && !p.img->zombie && !p.exited && p.main) return p.main.get();
  return nullptr;
}

}  // namespace ckpt::ipc
