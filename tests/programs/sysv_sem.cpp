// SysV semaphores: a keyed set of five and a private set of two, changed by
// the parent and by a child, so each semaphore has its value and its last
// pid. After SIGUSR1: same ids, key, mode, values and pids, and the sets
// still work between the two processes.
#include <sys/sem.h>
#include <sys/wait.h>

#include <string>

#include "zdtm.hpp"

namespace {

constexpr int kSems = 5;
const unsigned short kValues[kSems] = {3, 2, 7, 32767, 0};

void op(int id, unsigned short num, short delta) {
  sembuf b{num, delta, 0};
  if (semop(id, &b, 1) != 0) zdtm::die("semop(%d, %u, %d)", id, num, delta);
}

int childMain(int id) {
  zdtm::waitForSigusr1(zdtm::Wait::Sigsuspend);
  // Takes the two units it gave, without waiting: they must be there.
  sembuf b{1, -2, IPC_NOWAIT};
  CHECK(semop(id, &b, 1) == 0, "child cannot take back its units of semaphore 1: %s",
        strerror(errno));
  return zdtm::finish();
}

}  // namespace

int main() {
  key_t key = key_t(0x6b710000 | (getpid() & 0xfffff));
  int id = semget(key, kSems, IPC_CREAT | IPC_EXCL | 0640);
  int priv = semget(IPC_PRIVATE, 2, IPC_CREAT | 0600);
  if (id < 0 || priv < 0) zdtm::die("semget");
  for (unsigned short i = 0; i < kSems; ++i)
    if (i != 1 && kValues[i]) op(id, i, short(kValues[i]));
  op(priv, 0, 9);
  pid_t child = fork();
  if (child < 0) zdtm::die("fork");
  if (child == 0) {
    zdtm::closeReadyFdInChild();
    op(id, 1, 2);  // semaphore 1: value 2, last changed by the child
    _exit(childMain(id));
  }
  // The child's semop is done once its pid shows.
  while (semctl(id, 1, GETPID) != child) {
    if (waitpid(child, nullptr, WNOHANG) != 0) zdtm::die("child died");
    usleep(1000);
  }

  zdtm::readyAndWait(zdtm::Wait::Pause);

  CHECK(semget(key, 0, 0) == id, "key 0x%x now names set %d, not %d", key, semget(key, 0, 0), id);
  semid_ds ds{};
  if (CHECK(semctl(id, 0, IPC_STAT, &ds) == 0, "set %d is gone: %s", id, strerror(errno))) {
    CHECK((ds.sem_perm.mode & 0777) == 0640, "mode %o", ds.sem_perm.mode & 0777);
    CHECK(ds.sem_nsems == kSems, "%lu semaphores", static_cast<unsigned long>(ds.sem_nsems));
    CHECK(ds.sem_perm.uid == getuid(), "owner %u", ds.sem_perm.uid);
  }
  for (int i = 0; i < kSems; ++i) {
    int v = semctl(id, i, GETVAL);
    CHECK(v == kValues[i], "semaphore %d is %d, was %d", i, v, kValues[i]);
    int pid = semctl(id, i, GETPID);
    int want = i == 1 ? child : (kValues[i] ? getpid() : 0);
    CHECK(pid == want, "semaphore %d was last changed by %d, not %d", i, pid, want);
  }
  CHECK(semctl(priv, 0, GETVAL) == 9, "private set: semaphore 0 is %d", semctl(priv, 0, GETVAL));
  CHECK(semctl(priv, 0, GETPID) == getpid(), "private set: last pid %d", semctl(priv, 0, GETPID));

  kill(child, SIGUSR1);
  int status = 0;
  waitpid(child, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status 0x%x)", status);
  CHECK(semctl(id, 1, GETVAL) == 0, "semaphore 1 is %d after the child took 2",
        semctl(id, 1, GETVAL));
  semctl(id, 0, IPC_RMID);
  semctl(priv, 0, IPC_RMID);
  return zdtm::finish();
}
