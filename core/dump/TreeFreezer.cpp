// Tree freezing with PTRACE_SEIZE + PTRACE_INTERRUPT.
#include "core/dump/TreeFreezer.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/dump/MemorySnapshot.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr long kSeizeOptions = PTRACE_O_TRACESYSGOOD;

std::vector<pid_t> listTasks(pid_t pid) {
  std::vector<pid_t> tids;
  std::string dir = fmt::format("/proc/{}/task", pid);
  DIR* d = opendir(dir.c_str());
  if (!d) return tids;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    tids.push_back(std::stoi(e->d_name));
  }
  closedir(d);
  std::sort(tids.begin(), tids.end());
  // The leader first.
  auto it = std::find(tids.begin(), tids.end(), pid);
  if (it != tids.end()) std::rotate(tids.begin(), it, it + 1);
  return tids;
}

// "1234 (ckpt)": who holds a tracee, for the messages.
std::string tracerName(pid_t tracer) {
  try {
    return fmt::format(
        "{} ({})", tracer,
        proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", tracer))).comm);
  } catch (const Error&) {
    return std::to_string(tracer);
  }
}

char taskState(pid_t pid, pid_t tid) {
  try {
    return proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/task/{}/stat", pid, tid)))
        .state;
  } catch (const Error&) {
    return 'X';
  }
}

}  // namespace

void checkDumpablePid(pid_t pid) {
  if (pid <= 0) throw Error(fmt::format("{} is not a valid pid", pid));
  if (pid == 1) throw Error("pid 1 (init) cannot be checkpointed");
  if (pid == getpid()) throw Error(fmt::format("pid {} is ckpt itself", pid));
  proc::ProcStatus st;
  try {
    st = proc::parseStatus(proc::readProcFile(fmt::format("/proc/{}/status", pid)));
  } catch (const Error&) {
    throw Error(fmt::format("no process with pid {}", pid));
  }
  if (st.tgid != pid)
    throw Error(
        fmt::format("{} is a thread of process {}; pass the process id {}", pid, st.tgid, st.tgid));
  if (st.state == 'Z') throw Error(fmt::format("pid {} is a zombie; nothing to checkpoint", pid));
  if (st.tracer_pid != 0)
    throw Error(fmt::format(
        "pid {} is already traced by pid {}: a debugger, or another ckpt dump of this tree; "
        "retry when it is done",
        pid, tracerName(st.tracer_pid)));
}

TreeFreezer::~TreeFreezer() {
  // Resuming from our stops lets a job-control-stopped process run: stop it
  // again once all of its threads are let go (SIGSTOP cannot be caught).
  for (auto& p : processes_) {
    bool attached = !p.threads.empty() && p.threads.front().tid() != 0;
    for (auto& t : p.threads) t.detach();
    if (p.stopped && attached) kill(p.pid, SIGSTOP);
  }
}

FrozenProcess* TreeFreezer::find(pid_t pid) {
  for (auto& p : processes_)
    if (p.pid == pid) return &p;
  return nullptr;
}

bool TreeFreezer::seizeNewThreads(FrozenProcess& p) {
  bool changed = false;
  for (pid_t tid : listTasks(p.pid)) {
    bool known = std::any_of(p.threads.begin(), p.threads.end(),
                             [&](const Tracee& t) { return t.tid() == tid; });
    if (known) continue;
    char state = taskState(p.pid, tid);
    if (state == 'Z' || state == 'X') continue;  // an exiting thread
    if (tid == p.pid && p.threads.empty()) p.stopped = state == 'T';
    Tracee t = [&] {
      try {
        return Tracee::seize(tid, kSeizeOptions);
      } catch (const SysError& e) {
        if (e.err() == EPERM) {
          auto st = proc::parseStatus(proc::readProcFile(fmt::format("/proc/{}/status", tid)));
          if (st.tracer_pid != 0 && st.tracer_pid != getpid())
            throw Error(fmt::format(
                "tid {} of pid {} is already traced by pid {}: a debugger, or another ckpt "
                "dump of this tree; retry when it is done",
                tid, p.pid, tracerName(st.tracer_pid)));
          throw Error(
              fmt::format("not permitted to trace pid {}: checkpointing needs the same "
                          "user (and ptrace access) or root",
                          p.pid));
        }
        if (e.err() == ESRCH) return Tracee::adopt(0);
        throw;
      }
    }();
    if (t.tid() == 0) continue;
    if (!t.interruptAndWait()) continue;  // exited meanwhile
    if (tid == p.pid)
      p.threads.insert(p.threads.begin(), std::move(t));
    else
      p.threads.push_back(std::move(t));
    changed = true;
  }
  return changed;
}

void TreeFreezer::addChildren(FrozenProcess& p, bool& changed) {
  std::set<pid_t> kids;
  for (pid_t tid : listTasks(p.pid)) {
    std::string text;
    try {
      text = proc::readProcFile(fmt::format("/proc/{}/task/{}/children", p.pid, tid));
    } catch (const Error&) {
      continue;
    }
    std::istringstream in(text);
    pid_t c;
    while (in >> c) kids.insert(c);
  }
  // `p` lives in processes_: append only after the last use of it.
  std::vector<FrozenProcess> found;
  for (pid_t c : kids) {
    if (std::any_of(leftovers_.begin(), leftovers_.end(), [&](auto& l) { return l.second == c; }))
      continue;
    if (!find(c) && MemorySnapshot::isLeftover(c)) {
      leftovers_.push_back({p.pid, c});
      continue;
    }
    if (std::find(p.children.begin(), p.children.end(), c) == p.children.end())
      p.children.push_back(c);
    if (find(c)) continue;
    FrozenProcess child;
    child.pid = c;
    child.ppid = p.pid;
    child.zombie = taskState(c, c) == 'Z';
    found.push_back(std::move(child));
    changed = true;
  }
  for (auto& f : found) processes_.push_back(std::move(f));
}

void TreeFreezer::freeze() {
  checkDumpablePid(root_);
  FrozenProcess root;
  root.pid = root_;
  processes_.push_back(std::move(root));
  for (int round = 0;; ++round) {
    bool changed = false;
    // Index loop: addChildren appends to processes_.
    for (size_t i = 0; i < processes_.size(); ++i) {
      if (processes_[i].zombie) continue;
      if (seizeNewThreads(processes_[i])) changed = true;
      if (processes_[i].threads.empty()) {
        // It exited (or became a zombie) while we looked.
        processes_[i].zombie = taskState(processes_[i].pid, processes_[i].pid) == 'Z';
        if (!processes_[i].zombie && processes_[i].pid == root_)
          throw Error(fmt::format("pid {} exited while being frozen", root_));
        continue;
      }
      addChildren(processes_[i], changed);
    }
    if (!changed) break;
    if (round > 1000)
      throw Error(fmt::format("the tree of pid {} keeps changing; cannot freeze it", root_));
  }
  // Processes that vanished entirely (exited and reaped) are dropped.
  std::erase_if(processes_, [](const FrozenProcess& p) { return !p.zombie && p.threads.empty(); });
  log::info("froze {} processes", processes_.size());
}

void TreeFreezer::killAll() {
  for (auto& p : processes_) {
    if (p.zombie) continue;
    kill(p.pid, SIGKILL);
  }
  // Collect the tracer's exit notifications so the real parents can reap them.
  // Other threads first: a leader's exit is reported only after its group is gone.
  for (auto& p : processes_) {
    for (auto it = p.threads.rbegin(); it != p.threads.rend(); ++it) {
      auto& t = *it;
      int status;
      while (waitpid(t.tid(), &status, __WALL) < 0 && errno == EINTR) {
      }
      t.release();
    }
  }
}

}  // namespace ckpt
