// zdtm: a system call in progress across the dump. The main thread is blocked
// in read() on an empty pipe (ready is only announced once it is); a second
// thread waits for SIGUSR1 with sigwaitinfo and then writes to the pipe. The
// read must return that data: never EINTR, never a leaked -ERESTART* value.
#include <pthread.h>
#include <sys/syscall.h>

#include <ctime>

#include "zdtm.hpp"

namespace {

constexpr char kMessage[] = "written after SIGUSR1";
int g_pipe[2];
pid_t g_mainTid;

// Is thread `tid` of this process blocked in read(g_pipe[0])? From
// /proc/self/task/TID/syscall: "0 0x<fd> ..." while it is in read.
bool mainBlockedInRead() {
  auto text = zdtm::readFile("/proc/self/task/" + std::to_string(g_mainTid) + "/syscall");
  if (!text) return false;
  long nr = -1;
  unsigned long fd = ~0UL;
  if (sscanf(text->c_str(), "%ld %lx", &nr, &fd) != 2) return false;
  auto stat = zdtm::readFile("/proc/self/task/" + std::to_string(g_mainTid) + "/stat");
  bool sleeping = stat && stat->find(") S ") != std::string::npos;
  return nr == SYS_read && fd == static_cast<unsigned long>(g_pipe[0]) && sleeping;
}

void* writer(void*) {
  // Announce only once main really sleeps in read(), so the dump catches it there.
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  while (!mainBlockedInRead()) {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 30) zdtm::die("main thread never blocked in read()");
    sched_yield();
  }
  zdtm::readyAndWait(zdtm::Wait::Sigwaitinfo);
  if (write(g_pipe[1], kMessage, sizeof kMessage) != static_cast<ssize_t>(sizeof kMessage))
    zdtm::fail("write to the pipe: %s", strerror(errno));
  return nullptr;
}

}  // namespace

int main() {
  if (pipe(g_pipe) != 0) zdtm::die("pipe");
  g_mainTid = gettid();
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);  // both threads: only sigwaitinfo takes it
  pthread_t t;
  if (pthread_create(&t, nullptr, writer, nullptr) != 0) zdtm::die("pthread_create");

  char buf[64] = {};
  errno = 0;
  ssize_t n = read(g_pipe[0], buf, sizeof buf);
  int err = errno;
  CHECK(n == static_cast<ssize_t>(sizeof kMessage), "read returned %zd (errno %d: %s)", n, err,
        strerror(err));
  CHECK(n < 0 || memcmp(buf, kMessage, sizeof kMessage) == 0, "read returned other data: %.*s",
        static_cast<int>(n > 0 ? n : 0), buf);
  timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 20;
  CHECK(pthread_timedjoin_np(t, nullptr, &deadline) == 0, "cannot join the writer thread");
  return zdtm::finish();
}
