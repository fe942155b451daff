// The X11 proxy's acceptance list, each case both ways a client reaches a
// new server: live (`ckpt x11 move`) and through an image (`ckpt dump
// --kill`, then `ckpt restore --display` onto another Xvfb of another size).
// Every client shows the same pixels there (xwd) and, where it takes input,
// goes on taking it: xterm with scrollback, analog and digital xclock, xeyes,
// xlogo, xcalc after button presses, xedit with an unsaved edit, xmessage,
// and a GTK 3 dialog (zenity). Apart: twm on the new server, and Xvnc as it.
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <string>
#include <vector>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

enum class Via { Move, Image };

class X11Acceptance : public X11TwoServers, public ::testing::WithParamInterface<Via> {
 protected:
  void SetUp() override {
    X11TwoServers::SetUp();
    if (IsSkipped()) return;
    for (const char* p : {"xeyes", "xcalc", "xedit", "xmessage"})
      if (access(systemProgram(p).c_str(), X_OK) != 0)
        GTEST_SKIP() << p << " is not installed (scripts/install-deps.sh installs it)";
  }

  // The client's window `name` on the other server, reached the way the
  // test is about; "" (with a failure) when it did not come.
  std::string reattach(const std::string& name) {
    if (GetParam() == Via::Move) return moveWindow(name, display_, other_);
    std::string image = h.dir() + "/" + name + ".img";
    dumpKill(name, image);
    if (HasFatalFailure()) return "";
    restoreOnOther(image);
    if (HasFatalFailure()) return "";
    return waitWindowOn(other_, name);
  }

  // The window shows `before` on the other server (both pictures kept on a
  // failure, with CKPT_KEEP_TEST_DIR=1).
  void expectShows(const std::string& id, const std::string& before, const std::string& name) {
    if (showsEventually(other_, id, before)) return;
    writeFile(h.dir() + "/" + name + ".before", before);
    writeFile(h.dir() + "/" + name + ".after", pixelsOn(other_, id));
    ADD_FAILURE() << name << " looks different on :" << other_ << " (pictures in " << h.dir()
                  << ")";
  }

  void stop() {
    if (proxy_ > 0) {
      kill(proxy_, SIGTERM);
      h.waitExit(proxy_);
    }
    proxy_ = -1;
  }

  // A client whose picture does not change by itself: the same pixels there.
  void expectSamePixelsThere(const std::string& name, const std::vector<std::string>& argv) {
    SCOPED_TRACE(name);
    startProxied(argv);
    std::string id = waitWindow(name);
    ASSERT_FALSE(id.empty()) << h.log();
    std::string before = stablePixels(id);
    std::string there = reattach(name);
    ASSERT_FALSE(there.empty()) << h.log();
    expectShows(there, before, name);
    stop();
    ASSERT_TRUE(waitUntil([&] { return windowIdOn(other_, name).empty(); }));
  }
};

TEST_P(X11Acceptance, StaticClientsKeepTheirPixels) {
  expectSamePixelsThere("xlogo", {systemProgram("xlogo"), "-geometry", "120x120+10+10"});
  expectSamePixelsThere("xclock", {systemProgram("xclock"), "-digital", "-strftime", "%Y",
                                   "-update", "3600", "-geometry", "+20+20"});
  // xmessage's window is shaped from a mask pixmap it frees at once.
  expectSamePixelsThere("xmessage",
                        {systemProgram("xmessage"), "-geometry", "+0+0", "same", "pixels"});
}

// The analog clock draws its hands for the minute it is drawn in (on every
// Expose, such as the new server's): the test starts early in a minute.
TEST_P(X11Acceptance, AnalogXclock) {
  ASSERT_TRUE(waitUntil([] { return ::time(nullptr) % 60 < 30; }, std::chrono::seconds(40)));
  std::time_t started = ::time(nullptr);
  expectSamePixelsThere("xclock",
                        {systemProgram("xclock"), "-update", "3600", "-geometry", "164x164+0+0"});
  EXPECT_EQ(started / 60, ::time(nullptr) / 60) << "the minute changed under the test";
}

// xeyes looks at the pointer (it polls it): the pointer sits at the same
// place on both servers.
TEST_P(X11Acceptance, XeyesLookAtThePointer) {
  ASSERT_TRUE(xdotool(other_, {{"mousemove", "300", "200"}}));
  startProxied({systemProgram("xeyes"), "-geometry", "150x100+0+0"});
  std::string id = waitWindow("xeyes");
  ASSERT_FALSE(id.empty());
  std::string idle = stablePixels(id);
  ASSERT_TRUE(xdotool(display_, {{"mousemove", "300", "200"}}));
  std::string before;
  ASSERT_TRUE(waitUntil([&] { return (before = stablePixels(id)) != idle; }))
      << "xeyes never followed the pointer";
  std::string there = reattach("xeyes");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "xeyes");
}

// Text typed by xdotool, and scrollback: what scrolled off the screen before
// the move is still there to scroll back to after it.
TEST_P(X11Acceptance, XtermKeepsItsScrollbackAndTakesInput) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(typeLine(display_, id, "x=kept; seq 1 60"));
  std::string before = stablePixels(id);
  ASSERT_TRUE(keys(display_, id, {"shift+Prior"}));
  std::string scrolled;
  ASSERT_TRUE(waitUntil([&] { return (scrolled = stablePixels(id)) != before; }))
      << "xterm did not scroll back";
  ASSERT_TRUE(keys(display_, id, {"shift+Next"}));
  ASSERT_TRUE(showsEventually(display_, id, before));

  std::string there = reattach("xterm");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "xterm");
  ASSERT_TRUE(keys(other_, there, {"shift+Prior"}));
  expectShows(there, scrolled, "xterm-scrolled-back");
  ASSERT_TRUE(keys(other_, there, {"shift+Next"}));
  ASSERT_TRUE(typeLine(other_, there, "echo $x >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "kept\n"; }))
      << "xterm never ran what was typed on :" << other_ << ": '" << readFile(out) << "'";
}

// Text selected in xterm (it owns PRIMARY) can be pasted on the new server:
// the proxy takes the selection there for it, and xterm answers the request.
TEST_P(X11Acceptance, XtermSelectionPastesThere) {
  if (access(systemProgram("xclip").c_str(), X_OK) != 0)
    GTEST_SKIP() << "xclip is not installed (scripts/install-deps.sh installs it)";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(typeLine(display_, id, "echo selected-line"));
  // A triple click on the first line selects it.
  ASSERT_TRUE(xdotool(display_, {{"mousemove", "--window", id, "30", "5"},
                                 {"click", "--repeat", "3", "--delay", "50", "1"}}));
  auto primary = [&](const std::string& display) {
    return onDisplay(display, {"xclip", "-o", "-selection", "primary"}).out;
  };
  std::string selected;
  ASSERT_TRUE(waitUntil([&] {
    return (selected = primary(display_)).find("echo selected-line") != std::string::npos;
  })) << "xterm did not select its first line: '"
      << selected << "'";
  std::string there = reattach("xterm");
  ASSERT_FALSE(there.empty());
  EXPECT_EQ(primary(other_), selected);
}

// Buttons pressed (keys and a click) before, more after: the display shows
// what a calculator that was never moved shows for the same presses.
TEST_P(X11Acceptance, XcalcGoesOnCalculating) {
  startProxied({systemProgram("xcalc"), "-geometry", "+0+0"});
  std::string id = waitWindow("Calculator");
  ASSERT_FALSE(id.empty());
  std::string fresh = stablePixels(id);
  // 12+3=, then the +/- button (bottom row, fourth of five) with the mouse.
  ASSERT_TRUE(
      xdotool(display_, {{"windowfocus", "--sync", id}, {"type", "--delay", "20", "12+3="}}));
  std::string typed;
  ASSERT_TRUE(waitUntil([&] { return (typed = stablePixels(id)) != fresh; }));
  ASSERT_TRUE(xdotool(display_, {{"mousemove", "--window", id, "158", "378"}, {"click", "1"}}));
  std::string before;
  ASSERT_TRUE(waitUntil([&] { return (before = stablePixels(id)) != typed; }))
      << "the click on +/- did not change the display";
  std::string there = reattach("Calculator");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "xcalc");
  ASSERT_TRUE(
      xdotool(other_, {{"windowfocus", "--sync", there}, {"type", "--delay", "20", "*2="}}));
  std::string after;
  ASSERT_TRUE(waitUntil([&] { return (after = stablePixelsOn(other_, there)) != before; }));

  // The same presses on a calculator started there, beside it.
  pid_t reference = h.spawn({"/usr/bin/env", "DISPLAY=:" + other_, systemProgram("xcalc"), "-title",
                             "reference", "-geometry", "+400+0"},
                            Ready::Exec);
  std::string ref = waitWindowOn(other_, "reference");
  ASSERT_FALSE(ref.empty());
  stablePixelsOn(other_, ref);
  ASSERT_TRUE(xdotool(other_, {{"windowfocus", "--sync", ref},
                               {"type", "--delay", "20", "12+3="},
                               {"mousemove", "--window", ref, "158", "378"},
                               {"click", "1"},
                               {"type", "--delay", "20", "*2="}}));
  EXPECT_TRUE(showsEventually(other_, ref, after))
      << "the moved calculator shows another result than one that never moved";
  kill(reference, SIGTERM);
  h.waitExit(reference);
}

// A file being edited: the unsaved edit comes along, more typing goes on
// there, and saving writes both.
TEST_P(X11Acceptance, XeditKeepsAnUnsavedEdit) {
  std::string file = h.workDir() + "/notes.txt";
  writeFile(file, "line one\nline two\n");
  startProxied({systemProgram("xedit"), "-geometry", "+0+0", file});
  std::string id = waitWindow("xedit");
  ASSERT_FALSE(id.empty());
  stablePixels(id);
  // Keys go to the text under the pointer (the focus is the top-level).
  ASSERT_TRUE(xdotool(display_, {{"mousemove", "100", "115"},
                                 {"windowfocus", "--sync", id},
                                 {"type", "--delay", "10", "before "}}));
  std::string before = stablePixels(id);
  EXPECT_EQ(readFile(file), "line one\nline two\n");
  std::string there = reattach("xedit");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "xedit");
  ASSERT_TRUE(xdotool(other_, {{"mousemove", "100", "115"},
                               {"windowfocus", "--sync", there},
                               {"type", "--delay", "10", "after "},
                               {"key", "--delay", "20", "ctrl+x", "ctrl+s"}}));
  EXPECT_TRUE(
      waitForFile(file, [&] { return readFile(file) == "before after line one\nline two\n"; }))
      << "xedit saved '" << readFile(file) << "'";
}

// xmessage's button answers a click there: it prints its name and ends.
TEST_P(X11Acceptance, XmessageAnswers) {
  std::string out = h.workDir() + "/answer";
  startProxied(
      {systemProgram("bash"), "-c", "exec xmessage -geometry +0+0 -print 'click okay' >" + out});
  std::string id = waitWindow("xmessage");
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  std::string there = reattach("xmessage");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "xmessage");
  // Its one button (under the message, at the left) clicked.
  ASSERT_TRUE(xdotool(other_, {{"mousemove", "--window", there, "20", "38"}, {"click", "1"}}));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "okay\n"; }))
      << "xmessage answered '" << readFile(out) << "'";
}

// A GTK 3 dialog: the same pixels there, and the text typed there is what it
// prints when Return is pressed.
TEST_P(X11Acceptance, Gtk3DialogTakesTyping) {
  if (access(systemProgram("zenity").c_str(), X_OK) != 0)
    GTEST_SKIP() << "zenity is not installed (scripts/install-deps.sh installs it)";
  // No blinking text cursor: the picture holds still.
  std::string config = h.workDir() + "/config";
  ASSERT_EQ(::system(("mkdir -p " + config + "/gtk-3.0").c_str()), 0);
  writeFile(config + "/gtk-3.0/settings.ini", "[Settings]\ngtk-cursor-blink=false\n");
  std::string out = h.workDir() + "/entry", err = h.workDir() + "/stderr";
  startProxied({systemProgram("bash"), "-c",
                "export XDG_CONFIG_HOME=" + config + " NO_AT_BRIDGE=1; exec zenity --entry " +
                    "--title dialog --text 'Name?' >" + out + " 2>" + err});
  std::string id = waitWindow("dialog");
  ASSERT_FALSE(id.empty()) << h.log();
  std::string before = stablePixels(id);
  std::string there = reattach("dialog");
  ASSERT_FALSE(there.empty());
  expectShows(there, before, "zenity");
  ASSERT_TRUE(typeLine(other_, there, "typed there"));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "typed there\n"; }))
      << "zenity printed '" << readFile(out) << "'";
  EXPECT_EQ(readFile(err).find("CRITICAL"), std::string::npos) << readFile(err);
}

INSTANTIATE_TEST_SUITE_P(Both, X11Acceptance, ::testing::Values(Via::Move, Via::Image),
                         [](const auto& info) {
                           return info.param == Via::Move ? std::string("Live")
                                                          : std::string("ThroughAnImage");
                         });

// A window manager on the new server: twm reparents the client's window
// into its frame; the client's own window looks the same and takes input.
TEST_F(X11TwoServers, TwmOnTheNewServerFramesTheMovedXterm) {
  if (access(systemProgram("twm").c_str(), X_OK) != 0) GTEST_SKIP() << "twm is not installed";
  // twm's built-in menus ask for fonts Xvfb lacks: a small configuration.
  std::string twmrc = h.workDir() + "/twmrc";
  writeFile(twmrc, "NoTitleFocus\nRandomPlacement\n");
  pid_t twm = h.spawn({"/usr/bin/env", "DISPLAY=:" + other_, systemProgram("twm"), "-f", twmrc},
                      Ready::Exec);
  std::string out = h.workDir() + "/typed";
  // No border: twm takes it away from the windows it frames.
  std::string id = startXtermWithBash({"-bw", "0"});
  ASSERT_FALSE(id.empty());
  std::string before = stablePixels(id);
  ASSERT_TRUE(move(other_).status.ok());
  // The client's own window (not twm's frame): its id stays the client's.
  std::string there;
  ASSERT_TRUE(waitUntil([&] {
    auto r = onDisplay(other_, {"xwininfo", "-root", "-tree"});
    std::regex framed("\\n\\s+(0x[0-9a-f]+) \"xterm\": \\(\"xterm\"");
    std::smatch m;
    if (!std::regex_search(r.out, m, framed)) return false;
    there = m[1].str();
    auto info = onDisplay(other_, {"xwininfo", "-id", there, "-children"});
    std::smatch parent;
    return std::regex_search(info.out, parent, std::regex("Parent window id: ([^\\n]*)")) &&
           parent[1].str().find("the root window") == std::string::npos;
  })) << "twm never framed the xterm on :"
      << other_;
  if (!showsEventually(other_, there, before)) {
    writeFile(h.dir() + "/framed.before", before);
    writeFile(h.dir() + "/framed.after", pixelsOn(other_, there));
    ADD_FAILURE() << "the framed xterm looks different (pictures in " << h.dir() << ")";
  }
  ASSERT_TRUE(typeLine(other_, there, "echo framed >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "framed\n"; })) << readFile(out);
  kill(twm, SIGTERM);
  h.waitExit(twm);
}

// Xvnc as the new server (a VNC desktop's X server): the client moves there
// live and comes back there from an image with the same pixels.
class X11OntoXvnc : public X11TwoServers {
 protected:
  void SetUp() override {
    X11Proxy::SetUp();
    if (IsSkipped()) return;
    if (access(systemProgram("Xvnc").c_str(), X_OK) != 0) GTEST_SKIP() << "Xvnc is not installed";
    other_ = startXvfb("800x600x24", "Xvnc");
    ASSERT_FALSE(other_.empty()) << h.log() << readFile(h.workDir() + "/xvnc.log");
    samePointer();
  }
};

TEST_F(X11OntoXvnc, XtermMovesThereAndComesBackThereFromAnImage) {
  std::string out = h.workDir() + "/typed";
  std::string id = startXtermWithBash();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(typeLine(display_, id, "x=on-xvnc"));
  std::string before = stablePixels(id);
  std::string there = moveWindow("xterm", display_, other_);
  ASSERT_FALSE(there.empty());
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xterm looks different on Xvnc";
  // Back to the Xvfb live, then out with dump --kill, restored onto Xvnc.
  std::string back = moveWindow("xterm", other_, display_);
  ASSERT_FALSE(back.empty());
  std::string image = h.dir() + "/xterm.img";
  ASSERT_NO_FATAL_FAILURE(dumpKill("xterm", image));
  ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
  there = waitWindowOn(other_, "xterm");
  ASSERT_FALSE(there.empty()) << h.log();
  EXPECT_TRUE(showsEventually(other_, there, before)) << "xterm looks different on Xvnc";
  ASSERT_TRUE(typeLine(other_, there, "echo $x >" + out));
  EXPECT_TRUE(waitForFile(out, [&] { return readFile(out) == "on-xvnc\n"; })) << readFile(out);
}

}  // namespace
}  // namespace ckpt::test
