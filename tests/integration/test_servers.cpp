// Real servers dumped and restored whole (issue 3's acceptance): python's
// http.server answers on its loopback port after restore, and an Xvfb with
// xlogo and xclock as clients shows the very same root window, and the
// clients still draw when their windows are exposed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <regex>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

// ---------------------------------------------------------------- http.server

// GET /path from 127.0.0.1:port; the whole response, or "" on failure.
std::string httpGet(int port, const std::string& path) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return "";
  timeval tv{10, 0};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
    if (write(s, req.data(), req.size()) == ssize_t(req.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(s, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
    }
  }
  close(s);
  return out;
}

class HttpServer : public CkptTest {
 protected:
  const std::string body = "hello from before the dump\n";

  // Starts the server on a port the kernel picks; returns its pid and port.
  void start(pid_t* pid, int* port) {
    std::ofstream(h.workDir() + "/hello.txt") << body;
    *pid = h.spawn({systemProgram("python3"), "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                    "--directory", h.workDir()},
                   Ready::Exec);
    std::smatch m;
    const std::regex serving("Serving HTTP on 127\\.0\\.0\\.1 port ([0-9]+)");
    ASSERT_TRUE(waitForFile(h.logPath(),
                            [&] {
                              static std::string text;
                              text = readFile(h.logPath());
                              return std::regex_search(text, m, serving);
                            }))
        << "http.server never said where it listens:\n"
        << h.log();
    *port = std::stoi(m[1].str());
    ASSERT_NO_FATAL_FAILURE(expectServes(*port, "the server before the dump"));
  }

  void expectServes(int port, const std::string& who) {
    std::string r = httpGet(port, "/hello.txt");
    EXPECT_NE(r.find("200 OK"), std::string::npos) << who << " answered:\n" << r;
    EXPECT_NE(r.find(body), std::string::npos) << who << " answered:\n" << r;
  }
};

TEST_F(HttpServer, AnswersAfterKillAndRestore) {
  pid_t pid;
  int port;
  ASSERT_NO_FATAL_FAILURE(start(&pid, &port));
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(expectServes(port, "the restored server"));
  ASSERT_NO_FATAL_FAILURE(expectServes(port, "the restored server, asked again"));
}

TEST_F(HttpServer, AnswersWhileLeftRunningAndAfterRestore) {
  pid_t pid;
  int port;
  ASSERT_NO_FATAL_FAILURE(start(&pid, &port));
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), false));
  ASSERT_NO_FATAL_FAILURE(expectServes(port, "the server after the dump"));
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  h.waitExit(pid);
  ASSERT_TRUE(h.reapAll());
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(expectServes(port, "the restored server"));
}

// ---------------------------------------------------------------- Xvfb

// One tree: a shell that starts Xvfb on a free display (it says which on
// -displayfd, through a FIFO, once it accepts connections), then xlogo and
// a digital xclock showing only the year, so the picture holds still. The
// ready fd moves to 9 and no child inherits it.
constexpr const char* kXTree = R"SH(
set -e
cd "$CKPT_TEST_DIR"
exec 9>&$CKPT_READY_FD
eval "exec $CKPT_READY_FD>&-"
mkfifo displayfd
# The search for a free display starts at a number of this tree's own, so
# that servers started meanwhile (other tests, other suites) do not take
# this one's number while it is dumped and restored.
Xvfb ":$((100 + $$ % 800))" -displayfd 5 -nolisten tcp -screen 0 320x240x24 5>displayfd 9>&- &
read -r display <displayfd
rm displayfd
echo "$display" >display
export DISPLAY=:$display
xlogo -geometry 100x100+0+0 9>&- &
xclock -digital -strftime '%Y' -update 3600 -geometry 120x40+110+0 9>&- &
echo ready >&9
exec 9>&-
wait
)SH";

struct RunResult {
  bool ok = false;
  std::string out;
};

// Runs a command to the end with DISPLAY set, stdout captured.
RunResult runX(const std::string& display, const std::string& cmd) {
  std::string full = "DISPLAY=:" + display + " " + cmd + " 2>/dev/null";
  FILE* f = popen(full.c_str(), "r");
  if (!f) return {};
  RunResult r;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) r.out.append(buf, n);
  r.ok = pclose(f) == 0;
  return r;
}

// The root window's pixels (and colormap) from xwd, without its header.
std::string rootPixels(const std::string& display) {
  RunResult r = runX(display, "xwd -root -silent");
  if (!r.ok || r.out.size() < 4) return "";
  uint32_t headerSize = (uint32_t(uint8_t(r.out[0])) << 24) | (uint32_t(uint8_t(r.out[1])) << 16) |
                        (uint32_t(uint8_t(r.out[2])) << 8) | uint32_t(uint8_t(r.out[3]));
  return headerSize < r.out.size() ? r.out.substr(headerSize) : "";
}

bool windowsShown(const std::string& display) {
  RunResult r = runX(display, "xwininfo -root -tree");
  return r.ok && r.out.find("\"xlogo\"") != std::string::npos &&
         r.out.find("\"xclock\"") != std::string::npos;
}

class XServer : public CkptTest {
 protected:
  // Starts the tree; waits until both windows are there and the picture
  // holds still (the same twice in a row); returns it.
  void start(pid_t* pid, std::string* display, std::string* picture) {
    for (const char* p : {"Xvfb", "xlogo", "xclock", "xwd", "xwininfo"})
      if (access(systemProgram(p).c_str(), X_OK) != 0)
        GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs it)";
    *pid = h.spawn({systemProgram("bash"), "-c", kXTree});
    *display = readFile(h.workDir() + "/display");
    while (!display->empty() && display->back() == '\n') display->pop_back();
    ASSERT_FALSE(display->empty()) << h.log();
    ASSERT_TRUE(waitUntil([&] { return windowsShown(*display); })) << "no xlogo and xclock windows";
    std::string last;
    ASSERT_TRUE(waitUntil([&] {
      std::string now = rootPixels(*display);
      bool same = !now.empty() && now == last;
      last = now;
      return same;
    })) << "the root window never held still";
    *picture = last;
  }

  // After restore: the same picture, both windows, and clients that redraw
  // when a window that covered theirs goes away.
  void expectSameDesktop(const std::string& display, const std::string& picture) {
    ASSERT_TRUE(waitUntil([&] { return rootPixels(display) == picture; }, Seconds(20)))
        << "the root window differs from the one before the dump";
    EXPECT_TRUE(windowsShown(display)) << runX(display, "xwininfo -root -tree").out;
    pid_t cover = h.spawn({"/usr/bin/env", "DISPLAY=:" + display, systemProgram("xlogo"),
                           "-geometry", "320x240+0+0", "-bg", "red"},
                          Ready::Exec);
    ASSERT_TRUE(waitUntil([&] {
      std::string now = rootPixels(display);
      return !now.empty() && now != picture;
    })) << "the covering window never showed";
    kill(cover, SIGTERM);
    h.waitExit(cover);
    EXPECT_TRUE(waitUntil([&] { return rootPixels(display) == picture; }))
        << "xlogo and xclock did not redraw their windows after restore";
  }

  // Xvfb ends cleanly (removing its socket and lock file); its clients follow.
  void stop(pid_t root) {
    for (pid_t p : Harness::treePids(root))
      if (readFile("/proc/" + std::to_string(p) + "/comm") == "Xvfb\n") kill(p, SIGTERM);
    kill(root, SIGTERM);
    h.reapAll();
  }
};

TEST_F(XServer, SamePixelsAfterKillAndRestore) {
  pid_t pid;
  std::string display, picture;
  ASSERT_NO_FATAL_FAILURE(start(&pid, &display, &picture));
  if (IsSkipped()) return;
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(expectSameDesktop(display, picture));
  stop(restored);
}

TEST_F(XServer, SamePixelsWhileLeftRunningAndAfterRestore) {
  pid_t pid;
  std::string display, picture;
  ASSERT_NO_FATAL_FAILURE(start(&pid, &display, &picture));
  if (IsSkipped()) return;
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), false));
  ASSERT_NO_FATAL_FAILURE(expectSameDesktop(display, picture));
  stop(pid);
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(expectSameDesktop(display, picture));
  stop(restored);
}

}  // namespace
}  // namespace ckpt::test
