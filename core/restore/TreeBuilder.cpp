// Tree creation for restore.
#include "core/restore/TreeBuilder.hpp"

#include <linux/sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/KernelStructs.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/SyscallInsn.hpp"
#include "core/restore/SyscallBatch.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

// EXITKILL: should ckpt die before the tree is let go, the kernel kills every
// half-restored process instead of letting it run (new tasks inherit it).
constexpr long kTraceOptions = PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACEFORK | PTRACE_O_TRACECLONE |
                               PTRACE_O_TRACEVFORK | PTRACE_O_EXITKILL;

// The stub: a child of ckpt that only waits to be taken over. Raw system
// calls only: it runs in a copy of ckpt between clone3 and the takeover.
[[noreturn]] void stubMain() {
  kernel::Sigaction dfl{};
  for (int sig = 1; sig <= 64; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  uint64_t none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, nullptr, 8);
  // If ckpt dies before the tree is restored, the stub must not linger.
  syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  for (;;) syscall(SYS_pause);
}

std::string holderOf(pid_t pid) {
  try {
    auto st = proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", pid)));
    return fmt::format("'{}' (state {})", st.comm, st.state);
  } catch (const Error&) {
    return "";
  }
}

void waitInitialStop(pid_t tid) {
  for (;;) {
    StopStatus s = waitTracee(tid);
    if (s.kind == StopStatus::Kind::EventStop || s.kind == StopStatus::Kind::GroupStop) return;
    if (s.kind == StopStatus::Kind::SignalStop) continue;  // SIGSTOP of a non-seized attach
    throw Error(fmt::format("new task {} died before it could be restored", tid));
  }
}

}  // namespace

void waitPidFree(pid_t pid) {
  using namespace std::chrono;
  auto deadline = steady_clock::now() + seconds(5);
  // A live holder gets a moment too: `dump --kill -o - | restore -` reads
  // the whole stream before the dump's SIGKILL has taken the original.
  auto liveDeadline = steady_clock::now() + milliseconds(1000);
  bool said = false;
  for (;;) {
    bool alive = kill(pid, 0) == 0 || errno != ESRCH;
    std::string who = alive ? holderOf(pid) : "";
    bool zombie = who.find("(state Z)") != std::string::npos;
    if (!alive) return;
    if (alive && !zombie && !who.empty()) {
      if (steady_clock::now() < liveDeadline) {
        std::this_thread::sleep_for(milliseconds(10));
        continue;
      }
      throw Error(
          fmt::format("pid {} is in use by {}; stop it, or restore after it is gone", pid, who));
    }
    if (steady_clock::now() > deadline)
      throw Error(
          fmt::format("pid {} is still held by a zombie that its parent has not reaped", pid));
    if (!said) {
      log::warn("pid {} is held by an unreaped zombie; waiting a few seconds for it", pid);
      said = true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

TreeBuilder::~TreeBuilder() {
  if (armed_) killAll();
}

void TreeBuilder::killAll() {
  for (auto& p : procs_) {
    p.main.reset();
    if (p.exited) continue;
    kill(p.pid, SIGKILL);
  }
  for (auto it = procs_.rbegin(); it != procs_.rend(); ++it) {
    for (auto t = it->threads.rbegin(); t != it->threads.rend(); ++t) {
      int status;
      waitpid(t->tid(), &status, __WALL);
      t->release();
    }
  }
  // The root is ckpt's own child: reap it for good.
  if (!procs_.empty()) {
    int status;
    waitpid(procs_.front().pid, &status, WNOHANG);
  }
  procs_.clear();
}

RestoredProcess& TreeBuilder::byPid(pid_t pid) {
  for (auto& p : procs_)
    if (p.pid == pid) return p;
  throw Error(fmt::format("manifest: no process {} in the image", pid));
}

void TreeBuilder::spawnRoot() {
  const image::Process& img = img_.processes.front();
  pid_t want = img.pid;
  for (int attempt = 0;; ++attempt) {
    clone_args args{};
    args.exit_signal = SIGCHLD;
    args.set_tid = reinterpret_cast<uint64_t>(&want);
    args.set_tid_size = 1;
    long r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) stubMain();
    if (r > 0) break;
    if (errno == EEXIST && attempt == 0) {
      waitPidFree(want);
      // A pid used only as a process group or session id is not visible in
      // /proc; give such a holder the same grace.
      continue;
    }
    if (errno == EEXIST) {
      if (attempt < 250) {
        if (attempt == 1)
          log::warn("pid {} is still used as a process group or session id; waiting", want);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      throw Error(fmt::format("pid {} is taken (used as a process group or session id)", want));
    }
    if (errno == EPERM)
      throw Error(fmt::format("creating pid {} needs CAP_CHECKPOINT_RESTORE (run as root)", want));
    throwErrno(fmt::format("creating the root process with pid {}", want));
  }
  RestoredProcess p;
  p.img = &img;
  p.pid = want;
  p.threads.push_back(Tracee::seize(want, kTraceOptions));
  procs_.push_back(std::move(p));
  RestoredProcess& root = procs_.back();
  if (!root.threads.front().interruptAndWait())
    throw Error(fmt::format("the new root process {} died", want));
  root.main = std::make_unique<RemoteSyscalls>(root.threads.front(), syscallInsnOf(want));
  // The scratch area is inherited by every process the root creates.
  long at = root.main->check("mapping the scratch area", SYS_mmap, scratch_.base, scratch_.size,
                             PROT_READ | PROT_WRITE | PROT_EXEC,
                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, uint64_t(-1), 0);
  if (uint64_t(at) != scratch_.base)
    throw Error(fmt::format("scratch area landed at {:#x}, not {:#x}", at, scratch_.base));
  // syscall; int3: one stop per injected call (RemoteSyscalls::useTraps).
  const unsigned char insn[3] = {0x0f, 0x05, 0xcc};
  RemoteMemory mem(want);
  mem.write(scratch_.insn(), insn, sizeof insn);
  writeBatchCode(mem, scratch_);
  root.main->setSyscallInsn(scratch_.insn());
  root.main->useTraps(true);
}

pid_t TreeBuilder::cloneInto(RestoredProcess& parent, pid_t tid, uint64_t flags, int exitSignal) {
  RemoteMemory mem(parent.pid);
  clone_args args{};
  args.flags = flags;
  args.exit_signal = uint64_t(exitSignal);
  RemotePtr argsAt = scratch_.data();
  RemotePtr tidAt = argsAt + 128;
  args.set_tid = tidAt.addr();
  args.set_tid_size = 1;
  mem.writeValue(argsAt, args);
  mem.writeValue(tidAt, tid);
  pid_t created = 0;
  parent.main->onNewTask([&](pid_t t) { created = t; });
  for (int attempt = 0;; ++attempt) {
    long r = parent.main->call(SYS_clone3, argsAt.addr(), sizeof args);
    if (r > 0) break;
    if (r == -EEXIST && attempt < 250) {
      if (attempt == 0) waitPidFree(tid);
      if (attempt == 1)
        log::warn("pid {} is still used as a process group or session id; waiting", tid);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    if (r == -EEXIST)
      throw Error(fmt::format("pid {} is taken (used as a process group or session id)", tid));
    throw SysError(fmt::format("creating pid {} in process {}", tid, parent.pid), int(-r));
  }
  parent.main->onNewTask(nullptr);
  if (created != tid)
    throw Error(fmt::format("asked for pid {} but the kernel created {}", tid, created));
  waitInitialStop(tid);
  return tid;
}

void TreeBuilder::spawnChild(RestoredProcess& parent, const image::Process& img) {
  cloneInto(parent, img.pid, 0, img.exit_signal > 0 ? img.exit_signal : SIGCHLD);
  RestoredProcess p;
  p.img = &img;
  p.pid = img.pid;
  p.threads.push_back(Tracee::adopt(img.pid));
  procs_.push_back(std::move(p));
  RestoredProcess& child = procs_.back();
  child.main = std::make_unique<RemoteSyscalls>(child.threads.front(), scratch_.insn());
  child.main->useTraps(true);
}

Tracee& TreeBuilder::createThread(RestoredProcess& p, pid_t tid) {
  cloneInto(p, tid,
            CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM, 0);
  p.threads.push_back(Tracee::adopt(tid));
  return p.threads.back();
}

void TreeBuilder::setupGroups() {
  const image::Process& root = img_.processes.front();
  auto inTree = [&](pid_t id) {
    for (const auto& p : img_.processes)
      if (p.pid == id) return true;
    return false;
  };
  // A group whose leader is outside the tree (the root's own, typically) is
  // led by the root after restore, so the restored tree is one job.
  auto mapped = [&](const image::Process& p) -> pid_t {
    if (inTree(p.pgid)) return p.pgid;
    if (p.pgid == root.pgid) return root.pid;
    throw Error(
        fmt::format("pid {} is in process group {} whose leader is not in the tree; "
                    "such trees cannot be restored yet",
                    p.pid, p.pgid));
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& rp : procs_) {
      const image::Process& p = *rp.img;
      if (p.sid == p.pid) continue;  // setsid made it a group leader already
      pid_t pg = mapped(p);
      bool leader = pg == p.pid;
      if ((pass == 0) != leader) continue;
      rp.main->check(fmt::format("setpgid to {}", pg), SYS_setpgid, 0, uint64_t(pg));
    }
  }
}

void TreeBuilder::exitZombies() {
  for (auto& rp : procs_) {
    if (!rp.img->zombie) continue;
    int status = rp.img->exit_status;
    if (WIFSIGNALED(status)) {
      int sig = WTERMSIG(status);
      rlimit64 noCore{0, 0};
      prlimit64(rp.pid, RLIMIT_CORE, &noCore, nullptr);
      rp.main.reset();
      rp.threads.front().setSigmask(0);
      kill(rp.pid, sig);
      for (;;) {
        int pass = 0;
        if (ptrace(PTRACE_CONT, rp.pid, nullptr, (void*)(long)pass) != 0) break;
        StopStatus s = waitTracee(rp.pid);
        if (s.kind == StopStatus::Kind::Exited || s.kind == StopStatus::Kind::Signaled) break;
        if (s.kind == StopStatus::Kind::SignalStop) {
          ptrace(PTRACE_CONT, rp.pid, nullptr, (void*)(long)s.sig);
          StopStatus e = waitTracee(rp.pid);
          if (e.kind == StopStatus::Kind::Exited || e.kind == StopStatus::Kind::Signaled) break;
        }
      }
    } else {
      rp.main->callNoReturn(SYS_exit_group, uint64_t(WEXITSTATUS(status)));
      rp.main.reset();
    }
    rp.threads.front().release();
    rp.exited = true;
  }
}

void TreeBuilder::build() {
  spawnRoot();
  auto becomeSessionLeader = [&](RestoredProcess& p) {
    p.main->check("setsid", SYS_setsid);
    if (sessionLeader_) sessionLeader_(p);
  };
  if (img_.processes.front().sid == img_.processes.front().pid) becomeSessionLeader(procs_.front());
  for (size_t i = 1; i < img_.processes.size(); ++i) {
    const image::Process& p = img_.processes[i];
    RestoredProcess& parent = byPid(p.ppid);
    if (parent.img->zombie)
      throw Error(fmt::format("manifest: process {} has a zombie parent {}", p.pid, p.ppid));
    spawnChild(parent, p);
    if (p.sid == p.pid) becomeSessionLeader(procs_.back());
  }
  setupGroups();
  exitZombies();
}

}  // namespace ckpt

namespace ckpt {

RemotePtr ScratchLayout::putString(RemoteMemory& mem, uint64_t off, const std::string& str) const {
  if (off + str.size() + 1 > dataSize())
    throw Error(
        fmt::format("string too long for the scratch area ({} bytes): {}", str.size(), str));
  RemotePtr at = data() + off;
  mem.write(at, str.c_str(), str.size() + 1);
  return at;
}

}  // namespace ckpt
