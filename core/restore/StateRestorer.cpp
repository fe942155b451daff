// Non-memory state of a restored process, by injected calls.
#include "core/restore/StateRestorer.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "core/ptrace/KernelStructs.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/restore/SyscallBatch.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr int kPrTimerCreateRestoreIds = 77;  // Linux 6.17+: timer_create takes the id asked for

// `only`: that signal's action alone; otherwise all but SIGTRAP's, which is
// set after the last trap of the injected calls (RemoteSyscalls::useTraps).
// In one batch, each action at its own place in the scratch area.
void restoreSigactions(RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem,
                       int only = 0) {
  RemotePtr at = s.data();
  SyscallBatch batch(p, s);
  for (const auto& a : p.img->sigactions) {
    if (only ? a.signo != only : a.signo == SIGTRAP) continue;
    kernel::Sigaction ka{a.handler, a.flags, a.restorer, a.mask};
    mem.writeValue(at, ka);
    const std::string what = fmt::format("rt_sigaction({})", a.signo);
    if (only)
      p.main->check(what, SYS_rt_sigaction, a.signo, at.addr(), 0, 8);
    else
      batch.add(what, SYS_rt_sigaction, a.signo, at.addr(), 0, 8);
    at = at + sizeof ka;
  }
  batch.run();
}

void restoreTimers(RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem) {
  RemotePtr at = s.data();
  for (int which = 0; which < 3; ++which) {
    const auto& it = p.img->itimers[size_t(which)];
    if (it.value_us == 0 && it.interval_us == 0) continue;
    kernel::Itimerval v{it.interval_us / 1000000, it.interval_us % 1000000, it.value_us / 1000000,
                        it.value_us % 1000000};
    mem.writeValue(at, v);
    p.main->check("setitimer", SYS_setitimer, which, at.addr(), 0);
  }
  if (p.img->timers.empty()) return;
  // A timer may fire now, and one that sends SIGTRAP would meet the traps.
  for (const auto& t : p.img->timers)
    if (t.signo == SIGTRAP) p.main->useTraps(false);
  bool exactIds = p.main->call(SYS_prctl, kPrTimerCreateRestoreIds, 1, 0, 0, 0) == 0;
  auto timers = p.img->timers;
  std::sort(timers.begin(), timers.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::vector<int> fillers;
  for (const auto& t : timers) {
    kernel::Sigevent ev{};
    ev.value = t.sigval;
    ev.signo = t.signo;
    ev.notify = t.notify;
    ev.tid = t.notify_tid;
    RemotePtr evAt = at, idAt = at + 128;
    mem.writeValue(evAt, ev);
    int got = -1;
    for (int tries = 0; tries < 4096; ++tries) {
      mem.writeValue(idAt, int32_t(t.id));
      p.main->check(fmt::format("timer_create for timer {}", t.id), SYS_timer_create,
                    uint64_t(t.clockid), evAt.addr(), idAt.addr());
      got = mem.readValue<int32_t>(idAt);
      if (got == t.id || exactIds || got > t.id) break;
      fillers.push_back(got);  // ids are handed out in order: fill the gap
    }
    if (got != t.id)
      throw Error(fmt::format("pid {}: could not recreate POSIX timer {} with its id (got {})",
                              p.pid, t.id, got));
    if (t.value_ns || t.interval_ns) {
      kernel::Itimerspec v{t.interval_ns / 1000000000, t.interval_ns % 1000000000,
                           t.value_ns / 1000000000, t.value_ns % 1000000000};
      mem.writeValue(at + 256, v);
      p.main->check("timer_settime", SYS_timer_settime, uint64_t(t.id), 0, (at + 256).addr(), 0);
    }
  }
  for (int id : fillers) p.main->call(SYS_timer_delete, uint64_t(id));
  if (exactIds) p.main->call(SYS_prctl, kPrTimerCreateRestoreIds, 0, 0, 0, 0);
}

uint64_t ckptBoundingSet() {
  uint64_t set = 0;
  for (int cap = 0; cap <= 63; ++cap)
    if (prctl(PR_CAPBSET_READ, cap) == 1) set |= 1ull << cap;
  return set;
}

// The image's effective, permitted and inheritable sets.
void setCaps(RemoteSyscalls& rs, const image::Credentials& c, RemotePtr at, RemoteMemory& mem,
             const char* what) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {
      {uint32_t(c.cap_eff), uint32_t(c.cap_prm), uint32_t(c.cap_inh)},
      {uint32_t(c.cap_eff >> 32), uint32_t(c.cap_prm >> 32), uint32_t(c.cap_inh >> 32)}};
  mem.writeValue(at, hdr);
  mem.write(at + 64, data, sizeof data);
  rs.check(what, SYS_capset, at.addr(), (at + 64).addr());
}

void restoreCreds(const Tracee& t, RemoteSyscalls& rs, const image::Process& img,
                  const ScratchLayout& s, RemoteMemory& mem) {
  const auto& c = img.creds;
  RemotePtr at = s.data() + 1024;
  if (geteuid() != 0) {
    // An unprivileged restore keeps the caller's ids, which Preflight.cpp
    // made sure are the image's. Capabilities ckpt was given to restore
    // (CAP_CHECKPOINT_RESTORE, ambient) are not the program's: drop to the
    // image's, which for a user who is not root are none.
    rs.call(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    setCaps(rs, c, at, mem, "capset (dropping ckpt's capabilities)");
    return;
  }
  // Every stub has ckpt's bounding set (creds change only below, after the
  // whole tree and its threads exist): read it here, inject the drops only.
  const uint64_t have = ckptBoundingSet();
  for (int cap = 0; cap <= 63; ++cap)
    if ((have & ~c.cap_bnd) & (1ull << cap))
      rs.check("dropping a bounding capability", SYS_prctl, PR_CAPBSET_DROP, cap);
  mem.write(at, c.groups.data(), c.groups.size() * sizeof(uint32_t));
  rs.check("setgroups", SYS_setgroups, c.groups.size(), at.addr());
  rs.check("setresgid", SYS_setresgid, c.gid[0], c.gid[1], c.gid[2]);
  rs.call(SYS_setfsgid, c.gid[3]);
  rs.check("prctl(PR_SET_KEEPCAPS)", SYS_prctl, PR_SET_KEEPCAPS, 1);
  rs.check("setresuid", SYS_setresuid, c.uid[0], c.uid[1], c.uid[2]);
  rs.call(SYS_setfsuid, c.uid[3]);
  setCaps(rs, c, at, mem, "capset");
  for (int cap = 0; cap <= 63; ++cap)
    if (c.cap_amb & (1ull << cap))
      rs.check("raising an ambient capability", SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
               cap, 0, 0);
  rs.check("prctl(PR_SET_KEEPCAPS)", SYS_prctl, PR_SET_KEEPCAPS, 0);
  if (c.no_new_privs)
    rs.check("prctl(PR_SET_NO_NEW_PRIVS)", SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  (void)t;
}

// Empties the queues of signals the stub received while being restored
// (SIGCHLD of a zombie child made to exit, say).
void drainSignals(RemoteSyscalls& rs, const ScratchLayout& s, RemoteMemory& mem) {
  RemotePtr set = s.data() + 3072, ts = s.data() + 3080;
  mem.writeValue(set, ~0ull);
  const int64_t zero[2] = {0, 0};
  mem.write(ts, zero, sizeof zero);
  for (int i = 0; i < 1024; ++i)
    if (rs.call(SYS_rt_sigtimedwait, set.addr(), 0, ts.addr(), 8) < 0) return;
}

void queueSignals(RemoteSyscalls& rs, pid_t pid, pid_t tid,
                  const std::vector<std::vector<uint8_t>>& infos, bool shared,
                  const ScratchLayout& s, RemoteMemory& mem) {
  RemotePtr at = s.data() + 3200;
  for (const auto& info : infos) {
    if (info.size() < sizeof(siginfo_t)) throw Error("manifest: short siginfo");
    mem.write(at, info.data(), sizeof(siginfo_t));
    int sig = 0;
    std::memcpy(&sig, info.data(), sizeof sig);
    if (shared)
      rs.check(fmt::format("queueing signal {}", sig), SYS_rt_sigqueueinfo, pid, sig, at.addr());
    else
      rs.check(fmt::format("queueing signal {}", sig), SYS_rt_tgsigqueueinfo, pid, tid, sig,
               at.addr());
  }
}

void restoreThreadState(const Tracee& t, RemoteSyscalls& rs, const image::Thread& th,
                        RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem) {
  if (th.rseq_addr)
    rs.check("registering rseq", SYS_rseq, th.rseq_addr, th.rseq_len, 0, th.rseq_sig);
  if (th.robust_list)
    rs.check("set_robust_list", SYS_set_robust_list, th.robust_list, th.robust_list_len);
  rs.call(SYS_set_tid_address, th.clear_tid_address);
  kernel::Stack ss{th.altstack_sp, th.altstack_flags, 0, th.altstack_size};
  if (!(th.altstack_flags & SS_DISABLE)) {
    ss.flags &= ~SS_ONSTACK;  // the kernel derives "on stack" from the stack pointer
    mem.writeValue(s.data(), ss);
    rs.check("sigaltstack", SYS_sigaltstack, s.data().addr(), 0);
  }
  RemotePtr name = s.putString(mem, 512, th.comm.substr(0, 15));
  rs.call(SYS_prctl, PR_SET_NAME, name.addr());
  restoreCreds(t, rs, *p.img, s, mem);
  if (!th.xstate.empty()) t.setXstate(th.xstate);
  if (th.gpregs.size() != sizeof(user_regs_struct))
    throw Error(fmt::format("manifest: thread {} has registers of the wrong size", th.tid));
  user_regs_struct regs;
  std::memcpy(&regs, th.gpregs.data(), sizeof regs);
  rs.setFinalState(regs, th.sigmask);
}

}  // namespace

void restoreFds(RestoredProcess& p, const ScratchLayout& s, FdRestoreContext& ctx) {
  const auto& fds = p.img->fds;
  if (fds.empty()) return;
  int maxFd = 0;
  for (const auto& e : fds) maxFd = std::max(maxFd, e.fd);
  // Room for the highest fd plus our own helper above it.
  rlimit64 lim{};
  prlimit64(p.pid, RLIMIT_NOFILE, nullptr, &lim);
  if (lim.rlim_cur < uint64_t(maxFd) + 2) {
    rlimit64 more{std::max<uint64_t>(lim.rlim_max, uint64_t(maxFd) + 2),
                  std::max<uint64_t>(lim.rlim_max, uint64_t(maxFd) + 2)};
    if (prlimit64(p.pid, RLIMIT_NOFILE, &more, nullptr) != 0)
      throwErrno(fmt::format("pid {}: raising RLIMIT_NOFILE to fit fd {}", p.pid, maxFd));
  }
  long first = p.main->check("pidfd_open of ckpt", SYS_pidfd_open, uint64_t(getpid()), 0);
  long pidfd = p.main->check("moving the pidfd", SYS_fcntl, uint64_t(first), F_DUPFD_CLOEXEC,
                             uint64_t(maxFd + 1));
  p.main->call(SYS_close, uint64_t(first));
  for (const auto& e : fds) {
    auto it = ctx.files.find(e.file);
    if (it == ctx.files.end()) {
      if (e.file < 0 || size_t(e.file) >= ctx.image.files.size())
        throw Error(fmt::format("manifest: pid {} fd {} names file {} which does not exist", p.pid,
                                e.fd, e.file));
      const image::FileDesc& d = ctx.image.files[size_t(e.file)];
      it = ctx.files.emplace(e.file, fdKindFor(d.kind).restore(d, ctx)).first;
    }
    long tmp = p.main->check(fmt::format("pidfd_getfd for fd {}", e.fd), SYS_pidfd_getfd,
                             uint64_t(pidfd), uint64_t(it->second.get()), 0);
    if (tmp == e.fd) {
      // pidfd_getfd gives it FD_CLOEXEC already.
      if (!e.cloexec) p.main->check("fcntl(F_SETFD)", SYS_fcntl, uint64_t(tmp), F_SETFD, 0);
      continue;
    }
    p.main->check(fmt::format("dup3 to fd {}", e.fd), SYS_dup3, uint64_t(tmp), uint64_t(e.fd),
                  e.cloexec ? O_CLOEXEC : 0);
    p.main->call(SYS_close, uint64_t(tmp));
  }
  p.main->call(SYS_close, uint64_t(pidfd));
  FdInstallContext install{p.pid, *p.main, s.data(), s.dataSize(), fds, ctx.image};
  for (const auto& e : fds) {
    const image::FileDesc& d = ctx.image.files[size_t(e.file)];
    const FdKind& kind = fdKindFor(d.kind);
    if (kind.afterInstall) kind.afterInstall(d, e.fd, install);
  }
}

void restoreProcessState(RestoredProcess& p, const ScratchLayout& s) {
  RemoteMemory mem(p.pid);
  const image::Process& img = *p.img;
  p.main->check("chdir " + img.cwd, SYS_chdir, s.putString(mem, 0, img.cwd).addr());
  if (img.root != "/")
    p.main->check("chroot " + img.root, SYS_chroot, s.putString(mem, 0, img.root).addr());
  p.main->call(SYS_umask, img.umask);
  p.main->check("personality", SYS_personality, img.personality);
  restoreSigactions(p, s, mem);
  if (img.child_subreaper)
    p.main->check("prctl(PR_SET_CHILD_SUBREAPER)", SYS_prctl, PR_SET_CHILD_SUBREAPER, 1);
  p.main->call(SYS_prctl, PR_SET_PDEATHSIG, 0);
  // From ckpt, only those that differ from what the stub inherited: the
  // stub still has ckpt's credentials (they change with the threads, last),
  // so this needs no more privilege than the process itself would, and
  // raising a hard limit above ckpt's own needs CAP_SYS_RESOURCE either way.
  for (const auto& [res, lim] : img.rlimits) {
    rlimit64 now{};
    if (prlimit64(p.pid, static_cast<__rlimit_resource>(res), nullptr, &now) == 0 &&
        now.rlim_cur == lim.cur && now.rlim_max == lim.max)
      continue;
    rlimit64 l{lim.cur, lim.max};
    if (prlimit64(p.pid, static_cast<__rlimit_resource>(res), &l, nullptr) != 0)
      throwErrno(fmt::format("pid {}: setting rlimit {} to {}/{}", p.pid, res, lim.cur, lim.max));
  }
}

void restoreThreads(RestoredProcess& p, const ScratchLayout& s, TreeBuilder& tree) {
  RemoteMemory mem(p.pid);
  const image::Process& img = *p.img;
  if (img.threads.empty() || img.threads.front().tid != img.pid)
    throw Error(fmt::format("manifest: process {} has no main thread", img.pid));
  for (size_t i = 1; i < img.threads.size(); ++i) tree.createThread(p, img.threads[i].tid);
  // After the threads: a timer may signal one of them (SIGEV_THREAD_ID, as
  // glibc's SIGEV_THREAD timers do), which must exist when it is created.
  restoreTimers(p, s, mem);
  drainSignals(*p.main, s, mem);
  // The program's own pending signals come after the last trap: one may be
  // a SIGTRAP (RemoteSyscalls::useTraps).
  for (size_t i = 1; i < img.threads.size(); ++i) {
    const Tracee& t = p.threads[i];
    RemoteSyscalls rs(t, s.insn());
    rs.useTraps(true);
    restoreThreadState(t, rs, img.threads[i], p, s, mem);
    rs.useTraps(false);
    queueSignals(rs, p.pid, t.tid(), img.threads[i].pending, false, s, mem);
  }
  restoreThreadState(p.threads.front(), *p.main, img.threads.front(), p, s, mem);
  p.main->useTraps(false);
  restoreSigactions(p, s, mem, SIGTRAP);
  queueSignals(*p.main, p.pid, p.pid, img.pending_shared, true, s, mem);
  queueSignals(*p.main, p.pid, p.pid, img.threads.front().pending, false, s, mem);
  p.main->call(SYS_prctl, PR_SET_DUMPABLE, uint64_t(img.creds.dumpable));
  // The last injected call: the scratch area (and its syscall instruction) goes.
  long r = p.main->call(SYS_munmap, s.base, s.size);
  if (r != 0) throw SysError(fmt::format("pid {}: removing the scratch area", p.pid), int(-r));
  p.main.reset();  // sets the main thread's final registers and mask
}

}  // namespace ckpt
