// `ckpt x11 move`: a proxied client's windows leave one Xvfb and appear on
// another (of another size) with the same pixels, the client goes on
// working there (typing into xterm), and a move that cannot be done leaves
// the client where it was.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

class X11Move : public X11TwoServers {};

TEST_F(X11Move, XlogoMovesToAnotherServerAndBackWithTheSamePixels) {
  startProxied({systemProgram("xlogo"), "-geometry", "120x120+10+10"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  ASSERT_FALSE(before.empty());

  std::string there = moveWindow("xlogo", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xlogo looks different on :" << other_;

  std::string back = moveWindow("xlogo", other_, display_);
  ASSERT_FALSE(back.empty());
  EXPECT_TRUE(showsEventually(display_, back, before))
      << "xlogo looks different back on :" << display_;
}

TEST_F(X11Move, XclockWithRenderFontsMoves) {
  // Xft text: RENDER pictures and glyph sets made on the first server.
  startProxied({systemProgram("xclock"), "-digital", "-strftime", "%Y", "-update", "3600",
                "-geometry", "+20+20"});
  std::string id = waitWindow("xclock");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string there = moveWindow("xclock", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xclock looks different on :" << other_;
}

// Athena widget programs: xcalc (buttons in many subwindows), xmessage (a
// shaped window made from a mask pixmap that is freed at once).
TEST_F(X11Move, XcalcAndXmessageMoveWithTheSamePixels) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> clients = {
      {"Calculator", {systemProgram("xcalc"), "-geometry", "+0+0"}},
      {"xmessage", {systemProgram("xmessage"), "-geometry", "+0+0", "moved", "live"}}};
  for (const auto& [name, argv] : clients) {
    SCOPED_TRACE(name);
    startProxied(argv);
    std::string id = waitWindow(name);
    ASSERT_FALSE(id.empty());
    std::string before = stablePixels(id);
    std::string there = moveWindow(name, display_, other_);
    ASSERT_FALSE(there.empty());
    EXPECT_TRUE(showsEventually(other_, there, before))
        << name << " looks different on :" << other_;
    kill(proxy_, SIGTERM);
    h.waitExit(proxy_);
    proxy_ = -1;
    ASSERT_TRUE(waitUntil([&] { return windowIdOn(other_, name).empty(); }));
  }
}

TEST_F(X11Move, XtermGoesOnWorkingOnTheNewServer) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string there = moveWindow("xterm", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xterm looks different on :" << other_;

  ASSERT_TRUE(typeLine(other_, there, "echo moved >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "moved\n"; }))
      << "xterm never ran what was typed on :" << other_ << ": '" << readFile(out) << "'";
}

// A server with only its built-in fonts lacks xterm's 9x15: the move says
// which font stands in for it, and xterm goes on there.
TEST_F(X11Move, AMissingFontGetsASubstituteAndAWarning) {
  std::string bare = startXvfb("800x600x24", "Xvfb", "-fp built-ins");
  ASSERT_FALSE(bare.empty()) << h.log();
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash({"-fn", "9x15"});
  ASSERT_FALSE(id.empty());
  auto r = move(bare);
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_NE(r.err.find("font 9x15 is missing there: fixed stands in"), std::string::npos) << r.err;
  std::string there = waitWindowOn(bare, "xterm");
  ASSERT_FALSE(there.empty());
  ASSERT_TRUE(typeLine(bare, there, "echo substituted >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "substituted\n"; })) << readFile(out);
  EXPECT_EQ(h.log().find("refused a request of the proxy's own"), std::string::npos) << h.log();
}

// A passive key grab follows its key: on a server where F5 is another
// keycode, the grab is made on that one, and pressing F5 there still
// reaches the client (whose window selects no key events: only the grab
// delivers them).
TEST_F(X11Move, AKeyGrabFollowsItsKeysymToAnotherKeycode) {
  // F5 and F6 swap keys on the second server.
  ASSERT_TRUE(
      onDisplay(other_, {"xmodmap", "-e", "keycode 71 = F6", "-e", "keycode 72 = F5"}).status.ok());
  std::string out = h.workDir() + "/pressed";
  startProxied({programPath("x11_grab_key"), out});
  std::string id = waitWindow("grabkey");
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(xdotool(display_, {{"windowfocus", "--sync", id}, {"key", "F5"}}));
  ASSERT_TRUE(waitForFile(out, [&] { return readFile(out) == "pressed\n"; })) << readFile(out);

  std::string there = moveWindow("grabkey", display_, other_);
  ASSERT_FALSE(there.empty());
  ASSERT_TRUE(xdotool(other_, {{"windowfocus", "--sync", there}, {"key", "F5"}}));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "pressed\npressed\n"; }))
      << "the grab of F5 did not hold on :" << other_ << ": '" << readFile(out) << "'";
}

// Clips made from XFIXES regions the client destroyed at once (a window
// shape, a GC clip, a RENDER picture clip) hold on the new server: the
// client's redraw there fills only what they let through.
TEST_F(X11Move, ClipsFromXfixesRegionsHoldOnTheNewServer) {
  startProxied({programPath("x11_region_clips")});
  std::string id = waitWindow("regionclips");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string there = moveWindow("regionclips", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before))
      << "the clipped drawing looks different on :" << other_;
}

TEST_F(X11Move, AMoveThatCannotBeDoneLeavesTheClientWhereItWas) {
  startProxied({systemProgram("xlogo"), "-geometry", "100x100+0+0"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);

  // No server there: a one-line error naming it, exit 1.
  auto r = move("999");
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find(":999"), std::string::npos) << r.err;
  EXPECT_EQ(windowId("xlogo"), id);
  EXPECT_TRUE(showsEventually(display_, id, before));

  // Not a proxy: named as such.
  auto notProxy = h.runCkpt({"x11", "move", std::to_string(getpid()), "--display", ":" + other_});
  EXPECT_TRUE(notProxy.status.exitedWith(1)) << notProxy.describe();
  EXPECT_NE(notProxy.err.find("ckpt x11 run"), std::string::npos) << notProxy.err;

  // The client still answers: it can move after all.
  std::string there = moveWindow("xlogo", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before));
}

}  // namespace
}  // namespace ckpt::test
