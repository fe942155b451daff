// `ckpt x11 run` on Xvfb: clients reach the real server through the proxy
// and look exactly as they do when run directly; the proxy's display is
// closed to clients without its cookie; typing into xterm goes through.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

// Xvfb on a free display from :40 on, said on -displayfd through a FIFO once
// it accepts connections (an empty line when it could not start there). The
// low numbers are left to the tests that dump and restore an Xvfb: between
// its dump and its restore, its display looks free (a stale lock file) and a
// new server there would take the socket the restored one comes back to.
// The ready fd moves to 9 and Xvfb does not inherit it.
constexpr const char* kXvfb = R"SH(
set -e
cd "$CKPT_TEST_DIR"
exec 9>&$CKPT_READY_FD
eval "exec $CKPT_READY_FD>&-"
for n in $(seq 40 99); do
  [ -e /tmp/.X$n-lock ] && continue
  mkfifo displayfd
  Xvfb :$n -displayfd 5 -nolisten tcp -screen 0 640x480x24 5>displayfd 9>&- 2>>xvfb.log &
  display=
  read -r display <displayfd || true
  rm displayfd
  [ -n "$display" ] && break
done
echo "$display" >display
echo ready >&9
exec 9>&-
wait
)SH";

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class X11Proxy : public CkptTest {
 protected:
  void SetUp() override {
    for (const char* p : {"Xvfb", "xlogo", "xclock", "xwd", "xwininfo", "xterm", "xdotool"})
      if (access(systemProgram(p).c_str(), X_OK) != 0)
        GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs it)";
    xvfb_ = h.spawn({systemProgram("bash"), "-c", kXvfb});
    display_ = trimmed(readFile(h.workDir() + "/display"));
    ASSERT_FALSE(display_.empty()) << h.log();
  }

  void TearDown() override {
    // The proxy first (it tells its client to go, then removes its socket and
    // lock file), then Xvfb (which removes its own).
    if (proxy_ > 0) {
      kill(proxy_, SIGTERM);
      h.waitExit(proxy_);
    }
    if (xvfb_ > 0)
      for (pid_t p : Harness::treePids(xvfb_))
        if (readFile("/proc/" + std::to_string(p) + "/comm") == "Xvfb\n") kill(p, SIGTERM);
    h.reapAll();
    CkptTest::TearDown();
  }

  // Runs a command on the real server (or with `env` prepended) to the end.
  CommandResult onServer(const std::vector<std::string>& argv, const std::string& env = "") {
    std::vector<std::string> full{"/usr/bin/env", "DISPLAY=:" + display_};
    if (!env.empty()) full.push_back(env);
    full.insert(full.end(), argv.begin(), argv.end());
    return h.run(full, kTimeout, false);
  }

  // Starts `ckpt x11 run -- argv` in front of the Xvfb.
  void startProxied(const std::vector<std::string>& argv) {
    std::vector<std::string> full{"/usr/bin/env", "DISPLAY=:" + display_,
                                  ckptBinary(),   "x11",
                                  "run",          "--pidfile",
                                  pidfile(),      "--"};
    full.insert(full.end(), argv.begin(), argv.end());
    proxy_ = h.spawn(full, Ready::Exec);
  }
  std::string pidfile() const { return h.dir() + "/proxy.pid"; }

  // The id of the top-level window named `name` on the real server, or "".
  std::string windowId(const std::string& name) {
    auto r = onServer({"xwininfo", "-root", "-tree"});
    std::regex line("(0x[0-9a-f]+) \"" + name + "\": \\(");
    std::smatch m;
    return r.status.ok() && std::regex_search(r.out, m, line) ? m[1].str() : "";
  }
  std::string waitWindow(const std::string& name) {
    std::string id;
    EXPECT_TRUE(waitUntil([&] { return !(id = windowId(name)).empty(); }))
        << "no window \"" << name << "\" on the server";
    return id;
  }

  // The window's pixels from xwd, without its header (which names the window).
  std::string pixels(const std::string& id) {
    auto r = onServer({"xwd", "-id", id, "-silent"});
    if (!r.status.ok() || r.out.size() < 4) return "";
    const auto* b = reinterpret_cast<const unsigned char*>(r.out.data());
    std::size_t header = std::size_t(b[0]) << 24 | b[1] << 16 | b[2] << 8 | b[3];
    return header < r.out.size() ? r.out.substr(header) : "";
  }
  // The picture once it holds still (the same twice in a row).
  std::string stablePixels(const std::string& id) {
    std::string last, now;
    EXPECT_TRUE(waitUntil([&] {
      now = pixels(id);
      bool same = !now.empty() && now == last;
      last = now;
      return same;
    })) << "window "
        << id << " never held still";
    return last;
  }

  // The picture of `argv`'s window `name` run directly, then through the proxy.
  void expectSamePicture(const std::vector<std::string>& argv, const std::string& name) {
    std::vector<std::string> direct{"/usr/bin/env", "DISPLAY=:" + display_};
    direct.insert(direct.end(), argv.begin(), argv.end());
    pid_t client = h.spawn(direct, Ready::Exec);
    std::string id = waitWindow(name);
    ASSERT_FALSE(id.empty());
    std::string before = stablePixels(id);
    kill(client, SIGTERM);
    h.waitExit(client);
    ASSERT_TRUE(waitUntil([&] { return windowId(name).empty(); }));

    startProxied(argv);
    id = waitWindow(name);
    ASSERT_FALSE(id.empty()) << h.log();
    std::string through = stablePixels(id);
    EXPECT_FALSE(through.empty());
    EXPECT_TRUE(through == before) << name << ": the window through the proxy differs ("
                                   << through.size() << " bytes against " << before.size() << ")";
  }

  std::string proxyDisplay() {
    // The client's DISPLAY, from its environment: the proxy's own display.
    std::string env;
    for (pid_t p : Harness::treePids(proxy_)) {
      if (p == proxy_) continue;
      env = readFile("/proc/" + std::to_string(p) + "/environ");
    }
    std::stringstream s(env);
    std::string var;
    while (std::getline(s, var, '\0'))
      if (var.rfind("DISPLAY=", 0) == 0) return var.substr(8);
    return "";
  }
  std::string proxyXauthority() {
    for (pid_t p : Harness::treePids(proxy_)) {
      if (p == proxy_) continue;
      std::stringstream s(readFile("/proc/" + std::to_string(p) + "/environ"));
      std::string var;
      while (std::getline(s, var, '\0'))
        if (var.rfind("XAUTHORITY=", 0) == 0) return var.substr(11);
    }
    return "";
  }

  pid_t xvfb_ = -1, proxy_ = -1;
  std::string display_;
};

TEST_F(X11Proxy, XlogoLooksTheSameThroughTheProxy) {
  ASSERT_NO_FATAL_FAILURE(
      expectSamePicture({systemProgram("xlogo"), "-geometry", "120x120+10+10"}, "xlogo"));
  // One tree: the proxy is the client's parent, and the pid file names it.
  EXPECT_EQ(trimmed(readFile(pidfile())), std::to_string(proxy_));
  auto tree = Harness::treePids(proxy_);
  EXPECT_EQ(tree.size(), 2u);
}

TEST_F(X11Proxy, RecordsWhatTheClientCreates) {
  startProxied({systemProgram("xlogo"), "-geometry", "120x130+10+10"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  stablePixels(id);
  // SIGUSR1: the proxy prints each connection's model as one JSON line.
  const std::string marker = "ckpt: x11: model: ";
  kill(proxy_, SIGUSR1);
  ASSERT_TRUE(waitForFile(h.logPath(), [&] {
    std::string log = h.log();
    auto at = log.find(marker);
    return at != std::string::npos && log.find('\n', at) != std::string::npos;
  })) << h.log();
  std::string log = h.log();
  auto at = log.find(marker) + marker.size();
  auto model = nlohmann::json::parse(log.substr(at, log.find('\n', at) - at));
  const nlohmann::json* top = nullptr;
  for (const auto& w : model["windows"])
    if (w["id"] == id) top = &w;
  ASSERT_NE(top, nullptr) << model.dump(1);
  EXPECT_EQ((*top)["width"], 120);
  EXPECT_EQ((*top)["height"], 130);
  EXPECT_EQ((*top)["mapped"], true);
  // WM_NAME (predefined atom 39) as the client set it; WM_PROTOCOLS interned by name.
  EXPECT_EQ((*top)["properties"]["39"]["text"], "xlogo") << top->dump(1);
  EXPECT_TRUE(model["atoms"].contains("WM_PROTOCOLS")) << model["atoms"].dump();
  EXPECT_TRUE((*top)["properties"].contains("WM_PROTOCOLS")) << top->dump(1);
  EXPECT_FALSE(model["gcs"].empty());
}

TEST_F(X11Proxy, XclockLooksTheSameThroughTheProxy) {
  // Only the year is shown, so the picture holds still.
  ASSERT_NO_FATAL_FAILURE(expectSamePicture({systemProgram("xclock"), "-digital", "-strftime", "%Y",
                                             "-update", "3600", "-geometry", "+20+20"},
                                            "xclock"));
}

TEST_F(X11Proxy, AnalogXclockAppears) {
  startProxied({systemProgram("xclock"), "-geometry", "150x150+0+0"});
  std::string id = waitWindow("xclock");
  ASSERT_FALSE(id.empty());
  EXPECT_FALSE(stablePixels(id).empty());
}

TEST_F(X11Proxy, ClientsWithoutTheCookieAreRefused) {
  startProxied({systemProgram("xlogo")});
  ASSERT_FALSE(waitWindow("xlogo").empty());
  std::string display = proxyDisplay();
  ASSERT_FALSE(display.empty());
  EXPECT_NE(display, ":" + display_);
  std::string xauth = proxyXauthority();
  struct stat st {};
  ASSERT_EQ(stat(xauth.c_str(), &st), 0) << xauth;
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A raw connection setup with no authorization: a Failed reply with a reason.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = "/tmp/.X11-unix/X" + display.substr(1);
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << path;
  const unsigned char setup[12] = {'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  ASSERT_EQ(write(fd, setup, sizeof setup), 12);
  std::string reply;
  char buf[256];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, std::size_t(n));
  close(fd);
  ASSERT_GE(reply.size(), 8u);
  EXPECT_EQ(reply[0], 0) << "not a Failed setup reply";
  EXPECT_NE(reply.find("Authorization required"), std::string::npos) << reply;

  // Xlib clients: refused without the cookie, served with it.
  auto refused = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=/dev/null",
                        systemProgram("xwininfo"), "-root"},
                       kTimeout, false);
  EXPECT_FALSE(refused.status.ok());
  auto served = h.run({"/usr/bin/env", "DISPLAY=" + display, "XAUTHORITY=" + xauth,
                       systemProgram("xwininfo"), "-root", "-tree"},
                      kTimeout, false);
  EXPECT_TRUE(served.status.ok()) << served.describe();
  EXPECT_NE(served.out.find("\"xlogo\""), std::string::npos) << served.out;
}

TEST_F(X11Proxy, TypingIntoXtermGoesThrough) {
  std::string out = h.workDir() + "/typed";
  startProxied({systemProgram("xterm"), "-title", "xterm", "-geometry", "80x24+0+0", "-e",
                systemProgram("bash"), "--norc", "--noprofile"});
  std::string id = waitWindow("xterm");
  ASSERT_FALSE(id.empty());
  stablePixels(id);
  auto focus = onServer({"xdotool", "windowfocus", "--sync", id});
  ASSERT_TRUE(focus.status.ok()) << focus.describe();
  auto typed = onServer({"xdotool", "type", "--delay", "5", "echo through-the-proxy >" + out});
  ASSERT_TRUE(typed.status.ok()) << typed.describe();
  ASSERT_TRUE(onServer({"xdotool", "key", "Return"}).status.ok());
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "through-the-proxy\n"; }))
      << "xterm never ran what was typed: '" << readFile(out) << "'";
}

}  // namespace
}  // namespace ckpt::test
