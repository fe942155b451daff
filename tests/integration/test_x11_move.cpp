// `ckpt x11 move`: a proxied client's windows leave one Xvfb and appear on
// another (of another size) with the same pixels, the client goes on
// working there (typing into xterm), and a move that cannot be done leaves
// the client where it was.
#include <gtest/gtest.h>

#include <string>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

class X11Move : public X11Proxy {
 protected:
  void SetUp() override {
    X11Proxy::SetUp();
    if (IsSkipped()) return;
    other_ = startXvfb("800x600x24");
    ASSERT_FALSE(other_.empty()) << h.log();
  }

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
  EXPECT_TRUE(showsEventually(display_, back, before)) << "xlogo looks different back on :" << display_;
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

TEST_F(X11Move, XtermGoesOnWorkingOnTheNewServer) {
  std::string out = h.workDir() + "/typed";
  startProxied({systemProgram("xterm"), "-title", "xterm", "-geometry", "80x24+0+0", "-e",
                systemProgram("bash"), "--norc", "--noprofile"});
  std::string id = waitWindow("xterm");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string there = moveWindow("xterm", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xterm looks different on :" << other_;

  auto focus = onDisplay(other_, {"xdotool", "windowfocus", "--sync", there});
  ASSERT_TRUE(focus.status.ok()) << focus.describe();
  auto typed = onDisplay(other_, {"xdotool", "type", "--delay", "5", "echo moved >" + out});
  ASSERT_TRUE(typed.status.ok()) << typed.describe();
  ASSERT_TRUE(onDisplay(other_, {"xdotool", "key", "Return"}).status.ok());
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "moved\n"; }))
      << "xterm never ran what was typed on :" << other_ << ": '" << readFile(out) << "'";
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
