// SysV semaphore sets: dump (values and last pids through semctl) and
// restore (same id, values set from inside the processes that set them).
// SEM_UNDO adjustments are not saved: the kernel shows them nowhere, and
// kcmp(KCMP_SYSVSEM) cannot tell a process that used SEM_UNDO from any
// process that ever started a thread (CLONE_SYSVSEM makes the undo list).
#include <sys/sem.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/ipc/SysvIpc.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/restore/TreeBuilder.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::ipc {
namespace {

union Semun {
  int val;
  semid_ds* buf;
  unsigned short* array;
};

}  // namespace

void dumpSysvSems(image::Image& img) {
  std::set<pid_t> tree = treePids(img);
  for (const auto& row : proc::parseSysvipc(proc::readProcFile("/proc/sysvipc/sem"))) {
    image::SysvSemSet s;
    s.id = int32_t(proc::sysvipcField(row, "semid"));
    s.key = int32_t(proc::sysvipcField(row, "key"));
    s.mode = uint32_t(proc::sysvipcField(row, "perms")) & 0777;
    s.uid = uint32_t(proc::sysvipcField(row, "uid"));
    s.gid = uint32_t(proc::sysvipcField(row, "gid"));
    size_t n = size_t(proc::sysvipcField(row, "nsems"));
    std::vector<unsigned short> values(n);
    Semun arg{};
    arg.array = values.data();
    if (semctl(s.id, 0, GETALL, arg) != 0) {
      if (errno == EINVAL || errno == EIDRM) continue;  // removed meanwhile
      // Another user's set that we may not read: a process of ours could
      // only have used it with alter-but-not-read rights. Left out.
      if (errno == EACCES) {
        log::debug("SysV semaphore set {} is not readable by us; left out", s.id);
        continue;
      }
      throwErrno(fmt::format("reading SysV semaphore set {}", s.id));
    }
    bool ours = false;
    for (size_t i = 0; i < n; ++i) {
      int pid = semctl(s.id, int(i), GETPID);
      if (pid < 0) throwErrno(fmt::format("reading SysV semaphore set {}", s.id));
      ours |= tree.count(pid) > 0;
      s.values.push_back(values[i]);
      s.pids.push_back(pid);
    }
    if (!ours) continue;
    log::debug("SysV semaphore set {} (key {:#x}, {} semaphores)", s.id, uint32_t(s.key), n);
    img.sysv_sems.push_back(std::move(s));
  }
}

void restoreSysvSems(const image::Image& img, TreeBuilder& tree, CreatedSysvObjects& created) {
  for (const auto& s : img.sysv_sems) {
    const int nsems = int(s.values.size());
    const std::string what =
        fmt::format("SysV semaphore set {} (key {:#x})", s.id, uint32_t(s.key));
    int id = createWithId("sem", s.id, [&] {
      return semget(s.key ? key_t(s.key) : IPC_PRIVATE, nsems, int(s.mode) | IPC_CREAT | IPC_EXCL);
    });
    int err = errno;
    if (id >= 0 && id != s.id) {
      // The kernel moves on to the next free id when that one is taken:
      // by the object itself, left from the dump, or by another one.
      semctl(id, 0, IPC_RMID);
      id = -1;
      err = EEXIST;
    }
    if (id >= 0) created.addSem(id);
    semid_ds ds{};
    Semun arg{};
    arg.buf = &ds;
    if (id < 0) {
      // Left from the dump (a SysV object outlives its processes): brought
      // back to its saved values, as long as it is the same set.
      if (semctl(s.id, 0, IPC_STAT, arg) != 0 || ds.sem_perm.__key != s.key ||
          int(ds.sem_nsems) != nsems)
        throw SysError(fmt::format("recreating {}: its key or id is taken by another object; "
                                   "remove that (ipcrm) to restore",
                                   what),
                       err);
      log::info("reusing {} left from the dump", what);
    }
    if (semctl(s.id, 0, IPC_STAT, arg) != 0) throwErrno("reading back " + what);
    ds.sem_perm.uid = s.uid;
    ds.sem_perm.gid = s.gid;
    ds.sem_perm.mode = s.mode;
    if (semctl(s.id, 0, IPC_SET, arg) != 0) throwErrno("setting owner and mode of " + what);
    for (int i = 0; i < nsems; ++i) {
      // Already right (a new set's zeros, or one left from the dump): left
      // alone, so its last pid stays too.
      if (semctl(s.id, i, GETVAL) == s.values[size_t(i)] &&
          semctl(s.id, i, GETPID) == s.pids[size_t(i)])
        continue;
      if (RemoteSyscalls* rs = sessionOf(tree, s.pids[size_t(i)])) {
        rs->check(fmt::format("setting semaphore {} of {}", i, what), SYS_semctl, uint64_t(s.id),
                  uint64_t(i), SETVAL, uint64_t(s.values[size_t(i)]));
      } else if (semctl(s.id, i, SETVAL, s.values[size_t(i)]) != 0) {
        throwErrno(fmt::format("setting semaphore {} of {}", i, what));
      }
    }
  }
}

}  // namespace ckpt::ipc
