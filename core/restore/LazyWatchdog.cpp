// Watchdog of the lazy page server: keeps the tree from running on memory the
// kernel zero-filled because nobody served it any more.
#include "core/restore/LazyWatchdog.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

// The tree's pids and everything they forked since (a child forked while
// pages were still coming has the same missing memory).
std::set<pid_t> withDescendants(const std::vector<pid_t>& tree) {
  std::set<pid_t> all(tree.begin(), tree.end());
  for (bool grew = true; grew;) {
    grew = false;
    DIR* d = opendir("/proc");
    if (!d) break;
    while (dirent* e = readdir(d)) {
      pid_t pid = atoi(e->d_name);
      if (pid <= 0 || all.count(pid)) continue;
      try {
        auto st = proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", pid)));
        if (all.count(st.ppid)) grew = all.insert(pid).second || grew;
      } catch (const std::exception&) {
        // Gone meanwhile.
      }
    }
    closedir(d);
  }
  return all;
}

}  // namespace

void tellWatchdog(int channel, char what, int fd) {
  iovec iov{&what, 1};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  while (sendmsg(channel, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

void runLazyWatchdog(UniqueFd channel, const std::vector<pid_t>& tree) {
  // Not part of the terminal's job: a Ctrl-C meant for the program must not
  // take the safety net away.
  setsid();
  for (int s : {SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGPIPE}) signal(s, SIG_IGN);
  std::vector<UniqueFd> held;
  for (;;) {
    char what = 0;
    iovec iov{&what, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))]{};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = recvmsg(channel.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n == 1 && what == kWatchdogDone) _exit(0);
    if (n == 1 && what == kWatchdogKeep) {
      if (cmsghdr* c = CMSG_FIRSTHDR(&msg); c && c->cmsg_type == SCM_RIGHTS) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
        held.emplace_back(fd);
      }
      continue;
    }
    break;  // EOF or error: the server is gone
  }
  // Kill while our references still keep the missing pages missing: every
  // thread that touches one waits, and dies waiting.
  std::set<pid_t> victims = withDescendants(tree);
  log::error(
      "restore --lazy: the page server ended before every page was in; killing the restored "
      "tree ({} processes) rather than letting it run on zero-filled memory",
      victims.size());
  for (pid_t pid : victims) kill(pid, SIGKILL);
  for (pid_t pid : withDescendants(tree)) kill(pid, SIGKILL);
  _exit(1);
}

}  // namespace ckpt
