// A lone X client checkpointed without its server: `ckpt dump` of a
// `ckpt x11 run` tree (the proxy drains and reads what only the server
// knows through its hook), the server left behind, and `ckpt restore
// --display` bringing the client back on another Xvfb, of another size,
// with the same pixels and working input; a dump that leaves it running
// lets it go on where it is.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>

#include "X11Fixture.hpp"
#include "picture/Png.hpp"

namespace ckpt::test {
namespace {

class X11Checkpoint : public X11TwoServers {};

TEST_F(X11Checkpoint, XlogoComesBackOnAnotherServerWithTheSamePixels) {
  startProxied({systemProgram("xlogo"), "-geometry", "120x120+10+10"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string image = h.dir() + "/xlogo.img";
  ASSERT_NO_FATAL_FAILURE(dumpKill("xlogo", image));
  auto inspect = h.runCkpt({"inspect", image, "--json"});
  EXPECT_NE(inspect.out.find("ckpt-hook:x11-proxy"), std::string::npos) << inspect.describe();
  // A thumbnail of the window (narrower than 320: its own size), and the kind.
  std::string png = h.dir() + "/thumb.png";
  auto thumb = h.runCkpt({"inspect", image, "--thumbnail", png});
  ASSERT_TRUE(thumb.status.ok()) << thumb.describe();
  picture::Frame t = picture::decodePng(readFile(png), png);
  EXPECT_EQ(t.width, 120);
  EXPECT_EQ(t.height, 120);
  bool black = false, white = false;
  for (std::size_t i = 0; i + 3 <= t.rgb.size(); i += 3) {
    black |= t.rgb[i] == 0 && t.rgb[i + 1] == 0 && t.rgb[i + 2] == 0;
    white |= t.rgb[i] == 255 && t.rgb[i + 1] == 255 && t.rgb[i + 2] == 255;
  }
  EXPECT_TRUE(black && white) << "the thumbnail is not xlogo's black logo on white";
  auto ls = h.runCkpt({"ls", h.dir()});
  EXPECT_NE(ls.out.find(" x11 "), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(" yes "), std::string::npos) << ls.out;

  ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
  std::string there = waitWindowOn(other_, "xlogo");
  ASSERT_FALSE(there.empty()) << h.log();
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xlogo looks different after restore";
  // The restored proxy still serves: the client moves on live.
  std::string back = moveWindow("xlogo", other_, display_);
  ASSERT_FALSE(back.empty());
  EXPECT_TRUE(showsEventually(display_, back, before));
}

TEST_F(X11Checkpoint, XtermComesBackAndTakesInput) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(typeLine(display_, id, "x=before-the-dump"));
  std::string before = stablePixels(id);
  std::string image = h.dir() + "/xterm.img";
  ASSERT_NO_FATAL_FAILURE(dumpKill("xterm", image));

  ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
  std::string there = waitWindowOn(other_, "xterm");
  ASSERT_FALSE(there.empty()) << h.log();
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xterm looks different after restore";
  // The shell inside kept its variable; the keyboard reaches it on the new server.
  ASSERT_TRUE(typeLine(other_, there, "echo $x >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "before-the-dump\n"; }))
      << "the restored xterm never ran what was typed: '" << readFile(out) << "'";
}

// What the dump reads from the old server for a clip made from a region the
// client destroyed (a shape, a GC clip, a picture clip), and the keyboard
// mapping a key grab is carried by, come back from the image: on a server
// where F5 is another key the grab holds, and the clipped redraw looks the same.
TEST_F(X11Checkpoint, RegionClipsAndAKeyGrabComeBackFromAnImage) {
  ASSERT_TRUE(
      onDisplay(other_, {"xmodmap", "-e", "keycode 71 = F6", "-e", "keycode 72 = F5"}).status.ok());
  startProxied({programPath("x11_region_clips")});
  std::string id = waitWindow("regionclips");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string image = h.dir() + "/clips.img";
  ASSERT_NO_FATAL_FAILURE(dumpKill("regionclips", image));
  ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
  std::string there = waitWindowOn(other_, "regionclips");
  ASSERT_FALSE(there.empty()) << h.log();
  EXPECT_TRUE(showsEventually(other_, there, before)) << "the clipped drawing looks different";
  kill(proxy_, SIGTERM);
  h.waitExit(proxy_);
  proxy_ = -1;

  std::string out = h.workDir() + "/pressed";
  startProxied({programPath("x11_grab_key"), out});
  id = waitWindow("grabkey");
  ASSERT_FALSE(id.empty());
  image = h.dir() + "/grab.img";
  ASSERT_NO_FATAL_FAILURE(dumpKill("grabkey", image));
  ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
  there = waitWindowOn(other_, "grabkey");
  ASSERT_FALSE(there.empty()) << h.log();
  ASSERT_TRUE(xdotool(other_, {{"windowfocus", "--sync", there}, {"key", "F5"}}));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "pressed\n"; }))
      << "the grab of F5 did not hold after restore: '" << readFile(out) << "'";
}

TEST_F(X11Checkpoint, ADumpThatLeavesItRunningLetsItGoOn) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  ASSERT_NO_FATAL_FAILURE(dump(proxyPid(), h.dir() + "/live.img", false));
  EXPECT_EQ(windowId("xterm"), id);
  EXPECT_TRUE(showsEventually(display_, id, before));
  ASSERT_TRUE(typeLine(display_, id, "echo after-the-dump >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "after-the-dump\n"; }))
      << "xterm stopped taking input after the dump: '" << readFile(out) << "'";
}

}  // namespace
}  // namespace ckpt::test
