// zdtm: a program that takes part in its checkpoint through core/hooks/
// (ckpt_hook.h). A worker thread counts; pre-dump parks it (quiesce) and
// resumed/restarted lets it go, checking that it did not run in between.
//
//   hooked [--poll] MODE [SERVER-PATH]
//
// MODE: "ok" answers pre-dump; "refuse" refuses the dump; "hang" answers
// only after SIGUSR1 (longer than any --hook-timeout a test gives).
// --poll serves the hook from the main thread (ckpt_hook_fd/dispatch)
// instead of the library's thread. SERVER-PATH: a stream socket of a server
// outside the tree; the connection (fd 50) is named external at pre-dump,
// and restarted connects again and sends "again\n".
//
// After SIGUSR1 it reads CKPT_TEST_DIR/hooked.expect, waits (bounded) for
// the events it names, and checks them: "resumed" (pre-dump then resumed),
// "failed" (pre-dump then resumed with dump_failed), "refused" (the refused
// pre-dump only), or "restarted KEY=VALUE..." (pre-dump, then restarted
// with at least these options). Then the worker must be counting again.
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <sstream>
#include <thread>

#include "ckpt_hook.h"
#include "zdtm.hpp"

namespace {

constexpr int kServerFd = 50;
constexpr auto kEventWait = std::chrono::seconds(20);

struct State {
  std::mutex m;
  std::condition_variable cv;
  // Worker
  std::atomic<uint64_t> count{0};
  bool pauseWanted = false;
  bool parked = false;
  uint64_t countAtPause = 0;
  // Hook events, in order: "pre-dump", "refused", "resumed", "resumed-failed", "restarted".
  std::vector<std::string> events;
  std::string image;
  std::string failError;
  std::string options;
  // Mode
  std::string mode;
  std::string server;
  bool released = false;  // "hang": SIGUSR1 came
};

State g;

void* worker(void*) {
  for (;;) {
    {
      std::unique_lock lk(g.m);
      if (g.pauseWanted) {
        g.parked = true;
        g.cv.notify_all();
        g.cv.wait(lk, [] { return !g.pauseWanted; });
        g.parked = false;
      }
    }
    g.count.fetch_add(1);
    timespec ms{0, 1000 * 1000};
    nanosleep(&ms, nullptr);
  }
  return nullptr;
}

void record(const std::string& event) {
  std::lock_guard lk(g.m);
  g.events.push_back(event);
  g.cv.notify_all();
}

// Lets the worker go; it must not have counted while it was parked.
void unpause(const char* by) {
  std::lock_guard lk(g.m);
  CHECK(g.count.load() == g.countAtPause,
        "the worker counted while quiesced (%llu -> %llu), seen by %s",
        static_cast<unsigned long long>(g.countAtPause),
        static_cast<unsigned long long>(g.count.load()), by);
  g.pauseWanted = false;
  g.cv.notify_all();
}

int connectServer() {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", g.server.c_str());
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      dup2(fd, kServerFd) != kServerFd) {
    close(fd);
    return -1;
  }
  close(fd);
  return kServerFd;
}

int onPreDump(const char* image, int kill, int* external, int max, char* error, size_t errorSize,
              void*) {
  (void)kill;
  if (g.mode == "refuse") {
    record("refused");
    snprintf(error, errorSize, "hooked refuses to be dumped (test)");
    return -1;
  }
  if (g.mode == "hang") {
    std::unique_lock lk(g.m);
    g.cv.wait(lk, [] { return g.released; });
  }
  {
    std::unique_lock lk(g.m);
    g.pauseWanted = true;
    g.cv.wait(lk, [] { return g.parked; });
    g.countAtPause = g.count.load();
    g.image = image;
  }
  record("pre-dump");
  int n = 0;
  if (!g.server.empty() && n < max) external[n++] = kServerFd;
  return n;
}

void onResumed(int failed, const char* error, void*) {
  {
    std::lock_guard lk(g.m);
    if (failed) g.failError = error ? error : "";
  }
  unpause(failed ? "resumed (failed)" : "resumed");
  record(failed ? "resumed-failed" : "resumed");
}

int onRestarted(const char* options, char* error, size_t errorSize, void*) {
  {
    std::lock_guard lk(g.m);
    g.options = options;
  }
  if (!g.server.empty()) {
    if (connectServer() != kServerFd || send(kServerFd, "again\n", 6, MSG_NOSIGNAL) != 6) {
      snprintf(error, errorSize, "cannot connect to %s again: %s", g.server.c_str(),
               strerror(errno));
      return -1;
    }
  }
  unpause("restarted");
  record("restarted");
  return 0;
}

const ckpt_hook_callbacks kCallbacks = {onPreDump, onResumed, onRestarted};

// ---- waiting for SIGUSR1, and serving the hook meanwhile in --poll mode

int g_wake[2];
void onUsr1(int) {
  int saved = errno;
  char c = 'u';
  (void)!write(g_wake[1], &c, 1);
  errno = saved;
}

// Polls the hook (if any) and the wake pipe until `done` holds or the deadline.
template <class Pred>
bool serveUntil(ckpt_hook* hook, Pred done, std::chrono::steady_clock::time_point deadline) {
  while (!done()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p[2] = {{g_wake[0], POLLIN, 0}, {hook ? ckpt_hook_fd(hook) : -1, POLLIN, 0}};
    int r = poll(p, 2, static_cast<int>(std::min<long long>(left.count(), 100)));
    if (r < 0 && errno != EINTR) zdtm::die("poll");
    if (r <= 0) continue;
    if (p[0].revents) {
      char c;
      if (read(g_wake[0], &c, 1) == 1) {
        std::lock_guard lk(g.m);
        g.released = true;
        g.cv.notify_all();
      }
    }
    if (hook && p[1].revents && ckpt_hook_dispatch(hook) != 0)
      zdtm::fail("ckpt_hook_dispatch: %s", strerror(errno));
  }
  return true;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
}

}  // namespace

int main(int argc, char** argv) {
  bool pollStyle = argc > 1 && std::string(argv[1]) == "--poll";
  int a = pollStyle ? 2 : 1;
  if (argc <= a) zdtm::die("usage: hooked [--poll] ok|refuse|hang [SERVER-PATH]");
  g.mode = argv[a];
  if (argc > a + 1) g.server = argv[a + 1];
  if (g.mode != "ok" && g.mode != "refuse" && g.mode != "hang")
    zdtm::die("unknown mode %s", argv[a]);
  if (g.mode == "hang" && pollStyle) zdtm::die("hang needs the hook's own thread");

  if (!g.server.empty()) {
    if (connectServer() != kServerFd) zdtm::die("connect %s", g.server.c_str());
    if (send(kServerFd, "hello\n", 6, MSG_NOSIGNAL) != 6) zdtm::die("send hello");
  }
  pthread_t t;
  if (pthread_create(&t, nullptr, worker, nullptr) != 0) zdtm::die("pthread_create");

  if (pipe2(g_wake, O_CLOEXEC) != 0) zdtm::die("pipe2");
  struct sigaction sa {};
  sa.sa_handler = onUsr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR1, &sa, nullptr) != 0) zdtm::die("sigaction");

  const std::string name = "hooked-" + std::to_string(getpid());
  ckpt_hook* hook = nullptr;
  if (pollStyle) {
    hook = ckpt_hook_open(name.c_str(), &kCallbacks, nullptr);
    if (!hook) zdtm::die("ckpt_hook_open");
  } else if (ckpt_hook_start(name.c_str(), &kCallbacks, nullptr) != 0) {
    zdtm::die("ckpt_hook_start");
  }

  zdtm::ready();
  serveUntil(
      hook,
      [] {
        std::lock_guard lk(g.m);
        return g.released;
      },
      std::chrono::steady_clock::time_point::max());

  auto expect = zdtm::readFile(zdtm::testPath("hooked.expect"));
  std::istringstream in(expect.value_or(""));
  std::string want;
  in >> want;
  std::vector<std::string> expected;
  if (want == "resumed")
    expected = {"pre-dump", "resumed"};
  else if (want == "failed")
    expected = {"pre-dump", "resumed-failed"};
  else if (want == "refused")
    expected = {"refused"};
  else if (want == "restarted")
    expected = {"pre-dump", "restarted"};
  else
    zdtm::die("hooked.expect says '%s'", expect.value_or("(missing)").c_str());

  // Events may still be on their way (resumed follows the dump's exit).
  auto deadline = std::chrono::steady_clock::now() + kEventWait;
  serveUntil(
      hook,
      [&] {
        std::lock_guard lk(g.m);
        return g.events.size() >= expected.size();
      },
      deadline);
  {
    std::lock_guard lk(g.m);
    CHECK(g.events == expected, "hook events: got %s, expected %s", joined(g.events).c_str(),
          joined(expected).c_str());
    if (want != "refused")
      CHECK(!g.image.empty() && g.image[0] == '/', "pre-dump named the image '%s'",
            g.image.c_str());
    if (want == "failed")
      CHECK(!g.failError.empty(), "resumed with dump_failed came without the error");
  }
  if (want == "restarted") {
    std::string kv;
    while (in >> kv) {
      auto eq = kv.find('=');
      char value[256];
      int n = ckpt_hook_option(g.options.c_str(), kv.substr(0, eq).c_str(), value, sizeof value);
      CHECK(n >= 0 && kv.substr(eq + 1) == value, "option %s: got %s in %s", kv.c_str(),
            n >= 0 ? value : "(missing)", g.options.c_str());
    }
  }
  // The worker counts again.
  uint64_t before = g.count.load();
  bool counting = serveUntil(
      hook, [&] { return g.count.load() > before + 5; },
      std::chrono::steady_clock::now() + std::chrono::seconds(10));
  CHECK(counting, "the worker does not run after the hook events");
  if (!g.server.empty())
    CHECK(send(kServerFd, "bye\n", 4, MSG_NOSIGNAL) == 4, "the server connection: %s",
          strerror(errno));
  if (hook) ckpt_hook_close(hook);
  return zdtm::finish();
}
