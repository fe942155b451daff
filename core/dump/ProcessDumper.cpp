// Per-process dump: what /proc and ptrace show from outside, then what only
// the process can tell (injected calls), then its fds and memory.
#include "core/dump/ProcessDumper.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/KernelStructs.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemoteScratch.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/ptrace/SyscallInsn.hpp"
#include "core/util/CpuPin.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

std::string procPath(pid_t pid, const char* what) {
  return fmt::format("/proc/{}/{}", pid, what);
}

std::string trimNewline(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

std::vector<int> listFds(pid_t pid) {
  std::vector<int> fds;
  std::string dir = procPath(pid, "fd");
  DIR* d = opendir(dir.c_str());
  if (!d) throwErrno("listing " + dir);
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') fds.push_back(std::stoi(e->d_name));
  closedir(d);
  std::sort(fds.begin(), fds.end());
  return fds;
}

// Whether fd is close-on-exec. fdinfo's flags are the description's flags
// with O_CLOEXEC added for a close-on-exec fd; a description opened with
// O_CLOEXEC through an ioctl (TIOCGPTPEER) carries that bit itself, and
// then only the process can tell (an injected fcntl).
bool closeOnExec(const FdProbe& probe, RemoteSyscalls& rs) {
  if (!(probe.info.flags & O_CLOEXEC)) return false;
  int local = probe.local.get();
  int own = fcntl(local, F_GETFD);
  fcntl(local, F_SETFD, 0);
  auto mine = proc::parseFdinfo(proc::readProcFile(fmt::format("/proc/self/fdinfo/{}", local)));
  fcntl(local, F_SETFD, own);
  if (!(mine.flags & O_CLOEXEC)) return true;
  long r =
      rs.check(fmt::format("fcntl({}, F_GETFD)", probe.fd), SYS_fcntl, uint64_t(probe.fd), F_GETFD);
  return (r & FD_CLOEXEC) != 0;
}

void dumpFds(pid_t pid, image::Process& out, FdDumpContext& ctx, RemoteSyscalls& rs) {
  UniqueFd pidfd(int(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) throwErrno(fmt::format("pidfd_open of pid {}", pid));
  for (int fd : listFds(pid)) {
    FdProbe probe;
    probe.pid = pid;
    probe.fd = fd;
    probe.local.reset(int(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
    if (!probe.local) throwErrno(fmt::format("pid {} fd {}: duplicating it into ckpt", pid, fd));
    if (fstat(probe.local.get(), &probe.st) != 0)
      throwErrno(fmt::format("pid {} fd {}: fstat", pid, fd));
    probe.link = proc::readLink(fmt::format("/proc/{}/fd/{}", pid, fd));
    probe.info = proc::parseFdinfo(proc::readProcFile(fmt::format("/proc/{}/fdinfo/{}", pid, fd)));
    if (!closeOnExec(probe, rs)) probe.info.flags &= ~unsigned(O_CLOEXEC);
    out.fds.push_back(dumpFd(probe, ctx));
  }
}

image::Thread dumpThreadOutside(const Tracee& t, pid_t pid) {
  image::Thread th;
  th.tid = t.tid();
  th.comm = trimNewline(proc::readProcFile(fmt::format("/proc/{}/task/{}/comm", pid, t.tid())));
  th.xstate = t.getXstate();
  th.pending = t.peekPendingSignals(false);
  __ptrace_rseq_configuration rseq{};
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, t.tid(), sizeof rseq, &rseq) > 0 &&
      rseq.rseq_abi_pointer) {
    th.rseq_addr = rseq.rseq_abi_pointer;
    th.rseq_len = rseq.rseq_abi_size;
    th.rseq_sig = rseq.signature;
    th.rseq_flags = rseq.flags;
  }
  uint64_t head = 0;
  size_t len = 0;
  if (syscall(SYS_get_robust_list, t.tid(), &head, &len) == 0) {
    th.robust_list = head;
    th.robust_list_len = len;
  }
  return th;
}

// The parts of a thread only the thread can tell, via the process's scratch area.
void dumpThreadInside(RemoteSyscalls& rs, RemoteMemory& mem, RemotePtr scratch, image::Thread& th) {
  std::vector<uint8_t> regs(sizeof(user_regs_struct));
  user_regs_struct r = imageSyscallRegs(rs.savedRegs());
  std::memcpy(regs.data(), &r, sizeof r);
  th.gpregs = std::move(regs);
  th.sigmask = rs.savedSigmask();
  rs.check("sigaltstack", SYS_sigaltstack, 0, scratch.addr());
  auto ss = mem.readValue<kernel::Stack>(scratch);
  th.altstack_sp = ss.sp;
  th.altstack_size = ss.size;
  th.altstack_flags = ss.flags;
  rs.check("prctl(PR_GET_TID_ADDRESS)", SYS_prctl, PR_GET_TID_ADDRESS, scratch.addr());
  th.clear_tid_address = mem.readValue<uint64_t>(scratch);
}

// The signals whose action is not the default one: those /proc/PID/status
// shows caught or ignored, and SIGCHLD, whose SA_NOCLDSTOP / SA_NOCLDWAIT
// flags matter with the default action too. Any other signal is at SIG_DFL
// (the program may have set flags or a mask with it, which have no effect
// and are not kept): asking for its action would be one injected call each,
// most of the calls of a small process.
uint64_t signalsToAsk(const proc::ProcStatus& status) {
  return status.sig_cgt | status.sig_ign | (1ull << (SIGCHLD - 1));
}

void dumpSignalsAndTimers(pid_t pid, const proc::ProcStatus& status, RemoteSyscalls& rs,
                          RemoteMemory& mem, RemotePtr scratch, image::Process& out) {
  const uint64_t ask = signalsToAsk(status);
  for (int sig = 1; sig <= 64; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP || !(ask & (1ull << (sig - 1)))) continue;
    rs.check(fmt::format("rt_sigaction({})", sig), SYS_rt_sigaction, sig, 0, scratch.addr(), 8);
    auto ka = mem.readValue<kernel::Sigaction>(scratch);
    if (ka.handler == 0 && ka.flags == 0 && ka.mask == 0) continue;  // default: nothing to restore
    out.sigactions.push_back({sig, ka.handler, ka.flags, ka.restorer, ka.mask});
  }
  // Halfway through the injected calls: the thread is not itself now.
  fault::point("dump.process-state");
  for (int which = 0; which < 3; ++which) {
    rs.check("getitimer", SYS_getitimer, which, scratch.addr());
    auto it = mem.readValue<kernel::Itimerval>(scratch);
    out.itimers[size_t(which)] = {it.isec * 1000000 + it.iusec, it.vsec * 1000000 + it.vusec};
  }
  std::string timersText;
  try {
    timersText = proc::readProcFile(procPath(pid, "timers"));
  } catch (const Error&) {
  }
  for (const auto& pt : proc::parseTimers(timersText)) {
    image::PosixTimer t;
    t.id = pt.id;
    t.clockid = pt.clock_id;
    t.notify = pt.notify;
    t.signo = pt.signo;
    t.sigval = pt.sigval;
    t.notify_tid = pt.notify_pid;
    rs.check(fmt::format("timer_gettime({})", pt.id), SYS_timer_gettime, pt.id, scratch.addr());
    auto its = mem.readValue<kernel::Itimerspec>(scratch);
    t.interval_ns = its.isec * 1000000000 + its.insec;
    t.value_ns = its.vsec * 1000000000 + its.vnsec;
    t.overrun = int(rs.call(SYS_timer_getoverrun, pt.id));
    out.timers.push_back(t);
  }
  rs.check("prctl(PR_GET_CHILD_SUBREAPER)", SYS_prctl, PR_GET_CHILD_SUBREAPER, scratch.addr());
  out.child_subreaper = mem.readValue<int32_t>(scratch) != 0;
  out.creds.dumpable = int(rs.check("prctl(PR_GET_DUMPABLE)", SYS_prctl, PR_GET_DUMPABLE));
  out.mm.brk = uint64_t(rs.check("brk(0)", SYS_brk, 0));
}

void dumpOutside(pid_t pid, const proc::ProcStat& stat, const proc::ProcStatus& status,
                 image::Process& out) {
  out.pgid = stat.pgrp;
  out.sid = stat.session;
  out.ctty = static_cast<uint32_t>(stat.tty_nr);
  out.exit_signal = stat.exit_signal;
  out.comm = status.name;
  out.umask = status.umask.value_or(022);
  auto& mm = out.mm;
  mm.start_code = stat.start_code;
  mm.end_code = stat.end_code;
  mm.start_data = stat.start_data;
  mm.end_data = stat.end_data;
  mm.start_brk = stat.start_brk;
  mm.start_stack = stat.start_stack;
  mm.arg_start = stat.arg_start;
  mm.arg_end = stat.arg_end;
  mm.env_start = stat.env_start;
  mm.env_end = stat.env_end;
  mm.auxv = proc::parseAuxv(proc::readProcFile(procPath(pid, "auxv")));
  mm.exe = proc::readLink(procPath(pid, "exe"));
  out.cwd = proc::readLink(procPath(pid, "cwd"));
  out.root = proc::readLink(procPath(pid, "root"));
  out.personality = uint32_t(
      std::stoul(trimNewline(proc::readProcFile(procPath(pid, "personality"))), nullptr, 16));
  auto limits = proc::parseLimits(proc::readProcFile(procPath(pid, "limits")));
  for (size_t r = 0; r < limits.size(); ++r) out.rlimits[int(r)] = {limits[r].soft, limits[r].hard};
  auto& c = out.creds;
  c.uid = status.uid;
  c.gid = status.gid;
  c.groups = status.groups;
  c.cap_inh = status.cap_inh;
  c.cap_prm = status.cap_prm;
  c.cap_eff = status.cap_eff;
  c.cap_bnd = status.cap_bnd;
  c.cap_amb = status.cap_amb;
  c.no_new_privs = status.no_new_privs.value_or(false);
  if (status.seccomp.value_or(0) != 0)
    throw Error(
        fmt::format("pid {} runs under a seccomp filter, which ckpt cannot restore yet", pid));
}

}  // namespace

void dumpProcessState(FrozenProcess& fp, image::Process& out, FdDumpContext& fds,
                      GadgetCache& gadgetCache) {
  pid_t pid = fp.pid;
  out.pid = pid;
  out.ppid = fp.ppid;
  out.stopped = fp.stopped;
  auto stat = proc::parseStat(proc::readProcFile(procPath(pid, "stat")));
  if (fp.zombie) {
    out.zombie = true;
    out.pgid = stat.pgrp;
    out.sid = stat.session;
    out.exit_signal = stat.exit_signal;
    out.exit_status = stat.exit_code;
    out.comm = stat.comm;
    return;
  }
  using Clock = std::chrono::steady_clock;
  auto us = [](Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); };
  auto t0 = Clock::now();
  auto status = proc::parseStatus(proc::readProcFile(procPath(pid, "status")));
  dumpOutside(pid, stat, status, out);

  for (auto& t : fp.threads) out.threads.push_back(dumpThreadOutside(t, pid));
  out.pending_shared = fp.threads.front().peekPendingSignals(true);

  auto tOutside = Clock::now();
  RemoteMemory mem(pid);
  RemotePtr insn = syscallInsnOf(pid);
  Clock::time_point tGadgets, tThreads, tSignals;
  {
    // On the CPU the leader last ran on, where it wakes for every call.
    CpuPin pin(stat.processor);
    // Every injected call here is a query, run from a rollback frame on the
    // thread's own stack when possible: nothing is mapped, nothing is left
    // behind, and a ckpt killed meanwhile cannot spoil the thread.
    auto gadgets = RollbackGadgets::find(pid, &gadgetCache);
    if (!gadgets) log::debug("pid {}: no rollback code found; injecting without a safety net", pid);
    const RollbackGadgets* rollback = gadgets ? &*gadgets : nullptr;
    tGadgets = Clock::now();
    RemoteSyscalls main(fp.threads.front(), insn, rollback);
    std::optional<RemoteScratch> mapped;
    RemotePtr shared = main.stackScratch();
    if (!shared) shared = mapped.emplace(main, 4096).addr();
    dumpThreadInside(main, mem, shared, out.threads.front());
    for (size_t i = 1; i < fp.threads.size(); ++i) {
      RemoteSyscalls rs(fp.threads[i], insn, rollback);
      dumpThreadInside(rs, mem, rs.stackScratch() ? rs.stackScratch() : shared, out.threads[i]);
    }
    tThreads = Clock::now();
    dumpSignalsAndTimers(pid, status, main, mem, shared, out);
    tSignals = Clock::now();
    dumpFds(pid, out, fds, main);
  }
  log::debug(
      "pid {}: state read in {:.0f} us: outside {:.0f}, gadgets {:.0f}, threads {:.0f}, signals "
      "and timers {:.0f}, fds {:.0f} ({} fds) and letting go",
      pid, us(Clock::now() - t0), us(tOutside - t0), us(tGadgets - tOutside),
      us(tThreads - tGadgets), us(tSignals - tThreads), us(Clock::now() - tSignals),
      out.fds.size());
  fault::point("dump.fds");
}

void describeProcessMemory(const FrozenProcess& fp, image::Process& out, image::Image& img,
                           image::ImageWriter& writer, const VmFlagsSource& knownFlags) {
  if (fp.zombie) return;
  pid_t pid = fp.pid;
  // Read after the injected calls are done: our scratch area is gone again.
  auto maps = proc::parseMaps(proc::readProcFile(procPath(pid, "maps")));
  std::optional<KnownMappings> known;
  if (knownFlags) known = knownFlags(pid, maps);
  // Pre-copy read smaps before the freeze (reading it frozen costs 0.1-0.2 s a GiB).
  if (!known) {
    const std::string smaps = proc::readProcFile(procPath(pid, "smaps"));
    known.emplace();
    known->flags = proc::parseSmapsVmFlags(smaps);
    for (const auto& [start, kb] : proc::parseSmapsAnonHugePages(smaps))
      if (kb > 0) known->anonHuge.insert(start);
  }
  out.pages_file = fmt::format("pages-{}.img", pid);
  describeMemory(pid, maps, known->flags, out.vmas, img, writer);
  // Huge pages the kernel gave without "hg" (THP "always") are worth
  // getting back as well.
  for (auto& v : out.vmas)
    if (known->anonHuge.count(v.start) && !v.shared && v.kind == image::VmaKind::Anonymous)
      v.anon_huge = true;
}

}  // namespace ckpt
