// The snapshot child: clone3 injected from the thread's rollback frame.
//
// The child must never run the program's code, and the parent must not
// notice it:
// - PTRACE_O_TRACECLONE is set on the calling thread for the call only, so
//   the child starts attached to ckpt and stopped; PTRACE_O_EXITKILL is set
//   on it at once, so a ckpt that dies takes the snapshot with it.
// - Until then (a ckpt killed right at the clone), a detached child would
//   return to the gadget's `ret` with the stack pointer clone3 gave it, an
//   unmappable low address, and with CLONE_CLEAR_SIGHAND no handler of the
//   program can catch the fault: it dies at its first instruction.
// - exit_signal 0: no SIGCHLD, and wait()/waitpid() without __WALL or
//   __WCLONE never see it. CLONE_FILES|CLONE_FS: it holds no extra
//   reference to any open file, so pipes and sockets behave as before.
// - The zombie it leaves belongs to the parent: ckpt reaps it there with an
//   injected wait4 (a second, short stop of one thread) once the dump is
//   written. It runs setsid first (injected), so that a zombie left to
//   init, when the parent exits meanwhile, holds no process group or
//   session id of the tree.
// - Should ckpt die before it reaps the zombie, the program keeps it (it
//   never waits with __WALL). It is named "ckpt-snapshot" (injected
//   PR_SET_NAME) first thing, so that the next dump of the tree knows it
//   for what it is and reaps it instead of saving it (reapLeftovers).
#include "core/dump/MemorySnapshot.hpp"

#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/ptrace/RollbackFrame.hpp"
#include "core/ptrace/SyscallInsn.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr long kFreezerOptions = PTRACE_O_TRACESYSGOOD;
constexpr char kSnapshotName[] = "ckpt-snapshot";
// Below mmap_min_addr: the child's first `ret` faults there.
constexpr uint64_t kDeadStack = 0x1000;

bool forkKeepsPrivatePages(const image::Vma& v) {
  // MADV_DONTFORK ("dc") areas are missing from a child, MADV_WIPEONFORK
  // ("wf") areas are empty in it.
  return std::none_of(v.vmflags.begin(), v.vmflags.end(),
                      [](const std::string& f) { return f == "dc" || f == "wf"; });
}

// Ends the snapshot and takes the tracer's notice of its death; the zombie
// then waits for its real parent.
void killAndCollect(pid_t child) {
  kill(child, SIGKILL);
  for (;;) {
    int status = 0;
    pid_t w = waitpid(child, &status, __WALL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 || WIFEXITED(status) || WIFSIGNALED(status)) return;
  }
}

// Reaps the dead snapshot with a wait4 injected into a stopped thread of its parent.
void reapWith(const Tracee& thread, pid_t parent, pid_t child) {
  try {
    auto gadgets = RollbackGadgets::find(parent);
    RemoteSyscalls rs(thread, syscallInsnOf(parent), gadgets ? &*gadgets : nullptr);
    long r = rs.call(SYS_wait4, uint64_t(child), 0, __WALL | WNOHANG, 0);
    if (r != child)
      log::warn("pid {}: reaping the memory snapshot {}: wait4 returned {}", parent, child, r);
  } catch (const Error& e) {
    log::warn("pid {}: could not reap the memory snapshot {}: {}", parent, child, e.what());
  }
}

}  // namespace

std::optional<HeldChild> HeldChild::clone(FrozenProcess& fp, uint64_t flags, const char* what) {
  pid_t pid = fp.pid;
  if (fp.zombie || fp.stopped || fp.threads.empty()) return std::nullopt;
  auto gadgets = RollbackGadgets::find(pid);
  if (!gadgets) return std::nullopt;
  Tracee& leader = fp.threads.front();
  pid_t child = 0;
  long r = 0;
  RemotePtr scratch;
  double cloneMs = 0;
  leader.setOptions(kFreezerOptions | PTRACE_O_TRACECLONE);
  try {
    RemoteSyscalls rs(leader, syscallInsnOf(pid), &*gadgets);
    if (!rs.stackScratch()) {
      leader.setOptions(kFreezerOptions);
      return std::nullopt;
    }
    clone_args args{};
    args.flags = flags | CLONE_CLEAR_SIGHAND;
    args.exit_signal = 0;
    args.stack = kDeadStack;
    args.stack_size = kDeadStack;
    RemoteMemory mem(pid);
    scratch = rs.stackScratch();
    mem.writeValue(scratch, args);
    rs.onNewTask([&](pid_t c) { child = c; });
    auto t0 = std::chrono::steady_clock::now();
    r = rs.call(SYS_clone3, rs.stackScratch().addr(), sizeof args);
    cloneMs =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  } catch (...) {
    leader.setOptions(kFreezerOptions);
    if (child > 0) {  // the call went wrong after the clone: undo it
      killAndCollect(child);
      reapWith(leader, pid, child);
    }
    throw;
  }
  leader.setOptions(kFreezerOptions);
  if (r < 0 || child <= 0) {
    log::debug("pid {}: no {} (clone3: {})", pid, what,
               r < 0 ? strerror(int(-r)) : "no child reported");
    return std::nullopt;
  }
  HeldChild held(leader, pid, child, scratch);
  // Its first stop (PTRACE_EVENT_STOP for a child of a seized thread).
  StopStatus s = waitTracee(child);
  if (s.kind == StopStatus::Kind::Exited || s.kind == StopStatus::Kind::Signaled)
    throw Error(fmt::format("pid {}: the {} {} died at once", pid, what, child));
  if (ptrace(PTRACE_SETOPTIONS, child, nullptr, (void*)long(kFreezerOptions | PTRACE_O_EXITKILL)) !=
      0)
    throwErrno(fmt::format("pid {}: setting options of the {} {}", pid, what, child));
  // Its own session: should the parent exit before ckpt reaps it, the
  // zombie (then init's, reaped late) must not hold the parent's process
  // group or session id, which a restore of this image needs free.
  {
    Tracee self = Tracee::adopt(child);
    RemoteSyscalls rs(self, syscallInsnOf(pid));
    // The name goes where clone3's arguments were: the parent's free stack.
    RemoteMemory(child).write(scratch, kSnapshotName, sizeof kSnapshotName);
    long named = rs.call(SYS_prctl, PR_SET_NAME, scratch.addr());
    if (named != 0) log::debug("pid {}: naming the {} {}: {}", pid, what, child, named);
    long sid = rs.call(SYS_setsid);
    rs.abandon();
    self.release();
    if (sid != child) log::debug("pid {}: setsid in {} {}: {}", pid, what, child, sid);
  }
  log::debug("pid {}: {} {} (clone3 {:.1f} ms)", pid, what, child, cloneMs);
  return held;
}

HeldChild::~HeldChild() {
  if (child_ <= 0) return;
  killAndCollect(child_);
  reapWith(*leader_, parent_, child_);
}

std::unique_ptr<MemorySnapshot> MemorySnapshot::take(FrozenProcess& fp,
                                                     const std::vector<image::Vma>& vmas) {
  if (!std::all_of(vmas.begin(), vmas.end(), forkKeepsPrivatePages)) {
    log::debug("pid {}: MADV_DONTFORK/WIPEONFORK memory; its pages are saved frozen", fp.pid);
    return nullptr;
  }
  auto held = HeldChild::clone(fp, CLONE_FILES | CLONE_FS, "copy-on-write snapshot");
  if (!held) return nullptr;
  // Reaped later, from a new stop of the parent (the destructor).
  return std::unique_ptr<MemorySnapshot>(new MemorySnapshot(fp.pid, held->release()));
}

bool MemorySnapshot::isLeftover(pid_t pid) {
  try {
    auto st = proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", pid)));
    return st.state == 'Z' && st.comm == kSnapshotName && st.exit_signal == 0;
  } catch (const Error&) {
    return false;  // gone already
  }
}

void MemorySnapshot::reapLeftovers(TreeFreezer& freezer) {
  for (const auto& [parent, child] : freezer.leftoverSnapshots()) {
    FrozenProcess* fp = nullptr;
    for (auto& p : freezer.processes())
      if (p.pid == parent) fp = &p;
    if (!fp || fp->threads.empty()) continue;
    log::info("pid {}: reaping {}, a memory snapshot left by a ckpt that died", parent, child);
    reapWith(fp->threads.front(), parent, child);
  }
}

MemorySnapshot::~MemorySnapshot() {
  killAndCollect(child_);
  try {
    // Any thread of the parent may reap it; the leader is the one we know.
    Tracee t = Tracee::seize(parent_, kFreezerOptions);
    if (t.interruptAndWait()) reapWith(t, parent_, child_);
    // else the parent is gone, and its reaper has the zombie
  } catch (const Error& e) {
    log::warn("pid {}: could not reap the memory snapshot {}: {}", parent_, child_, e.what());
  }
}

}  // namespace ckpt
