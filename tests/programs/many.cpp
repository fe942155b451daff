// zdtm: a large tree. 200 processes (the root and 199 children) of 5
// threads each, 1000 threads in all, every thread parked in a blocking call;
// after the restore each child wakes its threads, joins them and reports.
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>

#include <vector>

#include "zdtm.hpp"

namespace {

constexpr int kChildren = 199;
constexpr int kThreadsEach = 4;  // beside the main thread

int g_wake[2];

void* parked(void*) {
  char c;
  // Blocks until the main thread closes the write end.
  while (read(g_wake[0], &c, 1) > 0) {
  }
  return nullptr;
}

// Starts the extra threads of this process; returns them.
std::vector<pthread_t> startThreads() {
  if (pipe2(g_wake, O_CLOEXEC) != 0) zdtm::die("pipe2");
  std::vector<pthread_t> threads(kThreadsEach);
  for (auto& t : threads)
    if (pthread_create(&t, nullptr, parked, nullptr) != 0) zdtm::die("pthread_create");
  return threads;
}

int joinThreads(std::vector<pthread_t>& threads) {
  close(g_wake[1]);
  for (auto& t : threads) pthread_join(t, nullptr);
  return 0;
}

}  // namespace

int main() {
  std::vector<pid_t> children;
  for (int i = 0; i < kChildren; ++i) {
    pid_t c = zdtm::forkBlockingUsr1();
    if (c == 0) {
      auto threads = startThreads();
      zdtm::waitForSigusr1(zdtm::Wait::Sigwaitinfo);
      joinThreads(threads);
      _exit(zdtm::finish());
    }
    children.push_back(c);
  }
  auto threads = startThreads();
  // Every child has its threads before the tree is announced ready.
  for (pid_t c : children) {
    for (int tries = 0;; ++tries) {
      std::string dir = "/proc/" + std::to_string(c) + "/task";
      int n = 0;
      if (DIR* d = opendir(dir.c_str())) {
        while (readdir(d)) ++n;
        closedir(d);
      }
      if (n - 2 == kThreadsEach + 1) break;
      if (tries > 100000) zdtm::die("child %d never had its threads", c);
      sched_yield();
    }
  }
  zdtm::readyAndWait(zdtm::Wait::Sigwaitinfo);
  for (pid_t c : children) kill(c, SIGUSR1);
  joinThreads(threads);
  int failed = 0;
  for (pid_t c : children) {
    int status = 0;
    if (waitpid(c, &status, 0) != c || !WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed;
  }
  CHECK(failed == 0, "%d of %d children failed", failed, kChildren);
  return zdtm::finish();
}
