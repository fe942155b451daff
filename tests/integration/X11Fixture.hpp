// The fixture of the X11 proxy tests: an Xvfb (or two) on free displays,
// `ckpt x11 run` in front of it, and the window and pixel probes (xwininfo,
// xwd) the tests compare with.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {

// Xvfb on a free display from :40 on, said on -displayfd through a FIFO once
// it accepts connections (an empty line when it could not start there). The
// low numbers are left to the tests that dump and restore an Xvfb: between
// its dump and its restore, its display looks free (a stale lock file) and a
// new server there would take the socket the restored one comes back to.
// The ready fd moves to 9 and Xvfb does not inherit it. -noreset: a server
// whose last client left (one moved away) would otherwise reset, putting its
// pointer back in the middle and refusing connections for a moment.
// $1: the screen geometry; $2: the file that receives the display number;
// $3: Xvfb (the default) or Xvnc (no RFB port: only X clients reach it);
// $4: more options for Xvfb (a font path).
constexpr const char* kXvfb = R"SH(
set -e
cd "$CKPT_TEST_DIR"
geometry=${1:-640x480x24}
out=${2:-display}
server=${3:-Xvfb}
options=${4:-}
exec 9>&$CKPT_READY_FD
eval "exec $CKPT_READY_FD>&-"
for n in $(seq 40 99); do
  [ -e /tmp/.X$n-lock ] && continue
  rm -f displayfd
  mkfifo displayfd
  if [ "$server" = Xvnc ]; then
    Xvnc :$n -displayfd 5 -noreset -nolisten tcp -geometry ${geometry%x*} -depth ${geometry##*x} \
      -SecurityTypes None -rfbport -1 5>displayfd 9>&- 2>>xvnc.log &
  else
    Xvfb :$n -displayfd 5 -noreset -nolisten tcp -screen 0 $geometry $options 5>displayfd 9>&- \
      2>>xvfb.log &
  fi
  display=
  read -r display <displayfd || true
  rm displayfd
  [ -n "$display" ] && break
done
echo "$display" >"$out"
echo ready >&9
exec 9>&-
wait
)SH";

inline void writeFile(const std::string& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

inline std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

class X11Proxy : public CkptTest {
 protected:
  void SetUp() override {
    for (const char* p : {"Xvfb", "xlogo", "xclock", "xwd", "xwininfo", "xterm", "xdotool"})
      if (access(systemProgram(p).c_str(), X_OK) != 0)
        GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs it)";
    display_ = startXvfb("640x480x24");
    ASSERT_FALSE(display_.empty()) << h.log();
  }

  // Another Xvfb (or Xvnc); returns its display number ("" when none could start).
  std::string startXvfb(const std::string& geometry, const std::string& server = "Xvfb",
                        const std::string& options = "") {
    std::string file = "display" + std::to_string(xvfbs_.size());
    xvfbs_.push_back(
        h.spawn({systemProgram("bash"), "-c", kXvfb, "xvfb", geometry, file, server, options}));
    return trimmed(readFile(h.workDir() + "/" + file));
  }

  void TearDown() override {
    // The proxy first (it tells its client to go, then removes its socket and
    // lock file), then Xvfb (which removes its own).
    if (proxy_ > 0) {
      kill(proxy_, SIGTERM);
      h.waitExit(proxy_);
    }
    for (pid_t xvfb : xvfbs_)
      for (pid_t p : Harness::treePids(xvfb))
        if (std::string comm = readFile("/proc/" + std::to_string(p) + "/comm");
            comm == "Xvfb\n" || comm == "Xvnc\n")
          kill(p, SIGTERM);
    h.reapAll();
    CkptTest::TearDown();
  }

  // Runs a command on the real server (or with `env` prepended) to the end.
  CommandResult onServer(const std::vector<std::string>& argv, const std::string& env = "") {
    return onDisplay(display_, argv, env);
  }
  CommandResult onDisplay(const std::string& display, const std::vector<std::string>& argv,
                          const std::string& env = "") {
    std::vector<std::string> full{"/usr/bin/env", "DISPLAY=:" + display};
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
  std::string windowId(const std::string& name) { return windowIdOn(display_, name); }
  std::string windowIdOn(const std::string& display, const std::string& name) {
    auto r = onDisplay(display, {"xwininfo", "-root", "-tree"});
    std::regex line("(0x[0-9a-f]+) \"" + name + "\": \\(");
    std::smatch m;
    return r.status.ok() && std::regex_search(r.out, m, line) ? m[1].str() : "";
  }
  std::string waitWindow(const std::string& name) { return waitWindowOn(display_, name); }
  std::string waitWindowOn(const std::string& display, const std::string& name) {
    std::string id;
    EXPECT_TRUE(waitUntil([&] { return !(id = windowIdOn(display, name)).empty(); }))
        << "no window \"" << name << "\" on :" << display;
    return id;
  }

  std::string pixels(const std::string& id) { return pixelsOn(display_, id); }
  // The window's pixels from xwd, without its header and colour table.
  std::string pixelsOn(const std::string& display, const std::string& id) {
    auto r = onDisplay(display, {"xwd", "-id", id, "-silent"});
    if (!r.status.ok() || r.out.size() < 100) return "";
    const auto* b = reinterpret_cast<const unsigned char*>(r.out.data());
    auto word = [&](std::size_t i) {
      return std::size_t(b[4 * i]) << 24 | b[4 * i + 1] << 16 | b[4 * i + 2] << 8 | b[4 * i + 3];
    };
    std::size_t start = word(0) + word(19) * 12;  // header size, colour entries
    if (start >= r.out.size()) return "";
    std::string pixels = r.out.substr(start);
    // Depth 24 in 32-bit pixels: the spare byte is undefined (RENDER may
    // leave anything there), so it does not count.
    if (word(3) == 24 && word(11) == 32) {
      std::size_t spare = word(7) == 0 ? 3 : 0;  // byte order: LSBFirst puts it last
      for (std::size_t i = spare; i < pixels.size(); i += 4) pixels[i] = 0;
    }
    return pixels;
  }
  // Something drawn: more than one colour.
  static bool drawn(const std::string& pixels) {
    for (std::size_t i = 4; i + 4 <= pixels.size(); i += 4)
      if (pixels.compare(i, 4, pixels, 0, 4) != 0) return true;
    return false;
  }
  // The window shows exactly `expected` (now, or once it has redrawn).
  bool showsEventually(const std::string& display, const std::string& id,
                       const std::string& expected) {
    return waitUntil([&] { return pixelsOn(display, id) == expected; });
  }
  // The picture once something is drawn and it holds still (the same twice in a row).
  std::string stablePixels(const std::string& id) { return stablePixelsOn(display_, id); }
  std::string stablePixelsOn(const std::string& display, const std::string& id) {
    std::string last, now;
    EXPECT_TRUE(waitUntil([&] {
      now = pixelsOn(display, id);
      bool same = drawn(now) && now == last;
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
    if (!showsEventually(display_, id, before)) {
      writeFile(h.dir() + "/direct.pixels", before);
      writeFile(h.dir() + "/proxied.pixels", pixels(id));
      ADD_FAILURE() << name << ": the window through the proxy differs (both pictures are in "
                    << h.dir() << " with CKPT_KEEP_TEST_DIR=1)";
    }
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

  // xterm running bash through the proxy, 80x24 at the top left; returns its
  // window once it is mapped and drawn (it can take the focus then).
  // `options`: more xterm options.
  std::string startXtermWithBash(const std::vector<std::string>& options = {}) {
    std::vector<std::string> argv{systemProgram("xterm"), "-title", "xterm", "-geometry",
                                  "80x24+0+0"};
    argv.insert(argv.end(), options.begin(), options.end());
    for (const std::string& a : {std::string("-e"), systemProgram("bash"), std::string("--norc"),
                                 std::string("--noprofile")})
      argv.push_back(a);
    startProxied(argv);
    std::string id = waitWindow("xterm");
    if (!id.empty()) stablePixels(id);
    return id;
  }

  // Types `line` and Return into the window (focused first) with xdotool;
  // false (with a failure) when xdotool could not.
  bool typeLine(const std::string& display, const std::string& window, const std::string& line) {
    return xdotool(
        display,
        {{"windowfocus", "--sync", window}, {"type", "--delay", "5", line}, {"key", "Return"}});
  }
  // Presses keys (xdotool names: "shift+Prior", "ctrl+x") in the focused window.
  bool keys(const std::string& display, const std::string& window,
            const std::vector<std::string>& names) {
    std::vector<std::string> key{"key", "--delay", "20"};
    key.insert(key.end(), names.begin(), names.end());
    return xdotool(display, {{"windowfocus", "--sync", window}, key});
  }
  // Runs xdotool commands one after the other; false (with a failure) at the
  // first that fails.
  bool xdotool(const std::string& display, const std::vector<std::vector<std::string>>& commands) {
    for (const auto& args : commands) {
      std::vector<std::string> argv{"xdotool"};
      argv.insert(argv.end(), args.begin(), args.end());
      auto r = onDisplay(display, argv);
      if (!r.status.ok()) {
        ADD_FAILURE() << r.describe();
        return false;
      }
    }
    return true;
  }

  std::vector<pid_t> xvfbs_;
  pid_t proxy_ = -1;
  std::string display_;
};

// A second Xvfb, of another size, for clients to move or come back to.
class X11TwoServers : public X11Proxy {
 protected:
  void SetUp() override {
    X11Proxy::SetUp();
    if (IsSkipped()) return;
    other_ = startXvfb("800x600x24");
    ASSERT_FALSE(other_.empty()) << h.log();
    samePointer();
  }

  // The pointer at the same place on both servers: what a client shows can
  // depend on it (focus follows it without a window manager, xeyes look at it).
  void samePointer() {
    for (const std::string& d : {display_, other_})
      ASSERT_TRUE(xdotool(d, {{"mousemove", "0", "0"}}));
  }

  pid_t proxyPid() { return std::stoi(trimmed(readFile(pidfile()))); }

  // dump --kill: the window leaves the server with the tree.
  void dumpKill(const std::string& name, const std::string& image) {
    pid_t pid = proxyPid();
    auto tree = Harness::treePids(pid);
    ASSERT_NO_FATAL_FAILURE(dump(pid, image, true));
    // The Xvfbs are children of the test too: reap the tree alone.
    for (pid_t p : tree) {
      auto st = h.waitExit(p);
      ASSERT_TRUE(st.kind == ExitStatus::Signaled) << "pid " << p << " " << st.describe();
      ASSERT_FALSE(pidExists(p)) << "pid " << p << " is still taken";
    }
    proxy_ = -1;
    EXPECT_TRUE(waitUntil([&] { return windowId(name).empty(); }))
        << name << " is still on :" << display_ << " after dump --kill";
  }

  // restore --detach --display :display; the same root pid comes back.
  void restoreOn(const std::string& display, const std::string& image) {
    auto r = h.runCkpt({"restore", image, "--detach", "--display", ":" + display});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    proxy_ = parsePidLine(r.out);
    ASSERT_GT(proxy_, 0) << r.describe();
  }
  void restoreOnOther(const std::string& image) { restoreOn(other_, image); }

  CommandResult move(const std::string& display) {
    return h.runCkpt({"x11", "move", trimmed(readFile(pidfile())), "--display", ":" + display});
  }

  // Moves there, and waits until the window shows there and is gone here.
  std::string moveWindow(const std::string& name, const std::string& from, const std::string& to) {
    auto r = move(to);
    EXPECT_TRUE(r.status.ok()) << r.describe() << h.log();
    std::string id = waitWindowOn(to, name);
    EXPECT_TRUE(waitUntil([&] { return windowIdOn(from, name).empty(); }))
        << name << " is still on :" << from << " after the move";
    return id;
  }

  std::string other_;
};

}  // namespace ckpt::test
