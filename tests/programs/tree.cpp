// zdtm: a process tree. root (a child subreaper) -> A (process group leader)
// -> B (in A's group); root -> S (its own session); root -> O (an orphan
// whose parent exited, so it was reparented to root); root -> Z (exited with
// 42, a zombie not reaped before the dump). After SIGUSR1 root forwards it;
// each process checks its ids and reports through a pipe shared by the tree;
// root reaps everyone (Z with status 42) and checks every status.
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "zdtm.hpp"

namespace {

// Ids a process had when the tree was built.
struct Ids {
  char name = '?';
  pid_t pid = 0, ppid = 0, pgid = 0, sid = 0;
};
Ids currentIds(char name) {
  return {name, getpid(), getppid(), getpgid(0), getsid(0)};
}

// One message on the report pipe (fixed size, written with one write).
struct Report {
  Ids ids;
  int failures = 0;
};

int g_setup[2];   // children -> root, once each is set up (closed before ready)
int g_report[2];  // children -> root, results after SIGUSR1 (held across the dump)

void send(int fd, const Report& r) {
  if (write(fd, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) zdtm::die("write report");
}

void checkIds(const Ids& want) {
  Ids now = currentIds(want.name);
  CHECK(now.pid == want.pid, "%c: pid %d, was %d", want.name, now.pid, want.pid);
  CHECK(now.ppid == want.ppid, "%c: ppid %d, was %d", want.name, now.ppid, want.ppid);
  CHECK(now.pgid == want.pgid, "%c: pgid %d, was %d", want.name, now.pgid, want.pgid);
  CHECK(now.sid == want.sid, "%c: sid %d, was %d", want.name, now.sid, want.sid);
}

// Reaps pid (bounded by the harness's timeout) and checks it exited 0.
void reapOk(pid_t pid, char name) {
  int st = 0;
  pid_t r = waitpid(pid, &st, 0);
  if (!CHECK(r == pid, "waitpid %c (%d): %s", name, pid, strerror(errno))) return;
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%c exited with status %#x", name, st);
}

// Body of every non-root member: report setup, wait, check, report result.
[[noreturn]] void member(char name, pid_t child = 0, char childName = 0) {
  close(g_setup[0]);
  close(g_report[0]);
  Ids mine = currentIds(name);
  // Block SIGUSR1 before telling root: it may forward the signal at once.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  sigprocmask(SIG_BLOCK, &usr1, nullptr);
  send(g_setup[1], {mine, 0});
  close(g_setup[1]);

  zdtm::waitForSigusr1(zdtm::Wait::Pause);

  checkIds(mine);
  if (child) reapOk(child, childName);
  send(g_report[1], {mine, zdtm::g_failures.load()});
  _exit(zdtm::finish());
}

pid_t forkOrDie() {
  pid_t p = fork();
  if (p < 0) zdtm::die("fork");
  if (p == 0) zdtm::closeReadyFdInChild();
  return p;
}

}  // namespace

int main() {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) zdtm::die("PR_SET_CHILD_SUBREAPER");
  if (pipe(g_setup) != 0 || pipe(g_report) != 0) zdtm::die("pipe");
  const pid_t root = getpid();
  const pid_t rootSid = getsid(0);

  pid_t z = forkOrDie();
  if (z == 0) _exit(42);

  pid_t a = forkOrDie();
  if (a == 0) {
    if (setpgid(0, 0) != 0) zdtm::die("setpgid");
    pid_t b = forkOrDie();
    if (b == 0) member('B');
    member('A', b, 'B');
  }
  setpgid(a, a);  // also from the parent, so it holds whichever runs first

  pid_t s = forkOrDie();
  if (s == 0) {
    if (setsid() < 0) zdtm::die("setsid");
    member('S');
  }

  pid_t x = forkOrDie();
  if (x == 0) {
    if (forkOrDie() == 0) {
      // Record ids only once X is gone and root has adopted O.
      for (int i = 0; getppid() != root; i++) {
        if (i > 1000000) zdtm::die("O was not reparented to root");
        sched_yield();
      }
      member('O');
    }
    _exit(0);  // O is orphaned and reparented to root, the subreaper
  }
  reapOk(x, 'X');

  close(g_setup[1]);
  Report got[4];
  for (auto& r : got)
    if (read(g_setup[0], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) zdtm::die("read setup");
  close(g_setup[0]);
  close(g_report[1]);

  Ids want[4];
  for (auto& r : got) {
    Ids& w = want[r.ids.name == 'A' ? 0 : r.ids.name == 'B' ? 1 : r.ids.name == 'S' ? 2 : 3];
    w = r.ids;
  }
  if (want[0].pid != a || want[2].pid != s) zdtm::die("setup reports mixed up");
  // What each member must look like, decided here rather than trusted.
  const Ids expect[4] = {{'A', a, root, a, rootSid},
                         {'B', want[1].pid, a, a, rootSid},
                         {'S', s, root, s, s},
                         {'O', want[3].pid, root, getpgid(0), rootSid}};
  for (int i = 0; i < 4; i++) {
    const Ids &e = expect[i], &w = want[i];
    if (e.pid != w.pid || e.ppid != w.ppid || e.pgid != w.pgid || e.sid != w.sid)
      zdtm::die("%c set up as pid %d ppid %d pgid %d sid %d", w.name, w.pid, w.ppid, w.pgid, w.sid);
  }

  // Z must be a zombie, not reaped, before the dump.
  siginfo_t si{};
  if (waitid(P_PID, z, &si, WEXITED | WNOWAIT) != 0) zdtm::die("waitid Z");
  const Ids rootIds = currentIds('R');

  zdtm::readyAndWait(zdtm::Wait::Sigsuspend);

  checkIds(rootIds);
  int subreaper = 0;
  prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
  CHECK(subreaper == 1, "root is no longer a child subreaper");
  // The ids of the others, as the kernel reports them to root.
  for (auto& e : expect) {
    CHECK(getpgid(e.pid) == e.pgid, "getpgid(%c) = %d, want %d", e.name, getpgid(e.pid), e.pgid);
    CHECK(getsid(e.pid) == e.sid, "getsid(%c) = %d, want %d", e.name, getsid(e.pid), e.sid);
  }
  // Only now wake the others: they exit once they have checked themselves.
  for (auto& e : expect)
    CHECK(kill(e.pid, SIGUSR1) == 0, "kill %c (%d): %s", e.name, e.pid, strerror(errno));

  // Z is still an unreaped zombie with status 42.
  siginfo_t zi{};
  CHECK(waitid(P_PID, z, &zi, WEXITED | WNOHANG | WNOWAIT) == 0 && zi.si_pid == z,
        "Z (%d) is not a zombie child of root", z);
  auto zstat = zdtm::readFile("/proc/" + std::to_string(z) + "/stat");
  CHECK(zstat && zstat->find(") Z ") != std::string::npos, "Z is not in state Z: %s",
        zstat ? zstat->c_str() : "(gone)");
  int st = 0;
  if (CHECK(waitpid(z, &st, 0) == z, "waitpid Z: %s", strerror(errno)))
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "Z: status %#x, want exit 42", st);

  // Reports from A, B, S, O, then their exit statuses.
  int reports = 0;
  pollfd pfd{g_report[0], POLLIN, 0};
  while (reports < 4 && poll(&pfd, 1, 30000) == 1) {
    Report r;
    if (read(g_report[0], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) break;
    CHECK(r.failures == 0, "%c reported %d failure(s)", r.ids.name, r.failures);
    reports++;
  }
  CHECK(reports == 4, "got %d of 4 reports", reports);
  reapOk(a, 'A');
  reapOk(s, 'S');
  reapOk(expect[3].pid, 'O');
  CHECK(waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD, "root has unexpected children left");
  return zdtm::finish();
}
