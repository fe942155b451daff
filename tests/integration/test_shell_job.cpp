// The user's own terminal: a program started from an interactive shell,
// dumped with --shell-job, restored with --shell-job in another terminal,
// where it takes over as the foreground job and redraws its screen.
#include <fstream>

#include "CkptTest.hpp"
#include "Terminal.hpp"

namespace ckpt::test {
namespace {

constexpr const char* kShell = "bash --norc --noprofile";

// The only child of `pid` (the program a shell runs in the foreground).
pid_t onlyChild(pid_t pid) {
  std::string kids =
      readFile("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
  return kids.empty() ? -1 : std::stoi(kids);
}

class ShellJob : public CkptTest {
 protected:
  // In the shell of window "user": vim on `file` with an unsaved line added,
  // back in normal mode; dumped with --shell-job --kill. Returns its screen.
  void vimDumped(TmuxServer& user, const std::string& file, std::string* screen) {
    std::ofstream(file) << "first line\nsecond line\n";
    user.sendText("user", "vim -u NONE -i NONE -N " + file);
    user.sendKeys("user", {"Enter"});
    ASSERT_TRUE(user.waitForText("user", "second line"));
    user.sendKeys("user", {"G", "o"});
    user.sendText("user", "unsaved edit 123");
    user.sendKeys("user", {"Escape"});
    ASSERT_TRUE(user.waitForText("user", "unsaved edit 123"));
    // Back in normal mode (vim waits a moment after Escape).
    ASSERT_TRUE(
        waitUntil([&] { return user.capture("user").find("-- INSERT --") == std::string::npos; }));
    pid_t vim = -1;
    ASSERT_TRUE(waitUntil([&] { return (vim = onlyChild(user.panePid("user"))) > 0; }));
    *screen = user.capture("user");
    auto r = h.runCkpt({"dump", std::to_string(vim), "-o", h.imageDir(), "--shell-job", "--kill"});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    ASSERT_TRUE(waitUntil([&] { return !pidExists(vim); })) << "vim " << vim << " still runs";
  }

  // Types `ckpt restore --shell-job` into the shell of `pane`.
  void restoreIn(TmuxServer& t, const std::string& pane) {
    t.sendText(pane, ckptBinary() + " restore --shell-job " + h.imageDir() + "; echo status=$?");
    t.sendKeys(pane, {"Enter"});
  }
};

TEST_F(ShellJob, VimFromAShellComesBackInAnotherTerminal) {
  std::string file = h.workDir() + "/notes.txt";
  TmuxServer user(h, h.dir() + "/user.sock", "user", 100, 30, kShell);
  std::string before;
  ASSERT_NO_FATAL_FAILURE(vimDumped(user, file, &before));

  // Another terminal of the same size, its own shell.
  std::string pane = user.newWindow("user", kShell);
  restoreIn(user, pane);
  ASSERT_TRUE(user.waitForText(pane, "unsaved edit 123")) << user.capture(pane);
  EXPECT_TRUE(waitUntil([&] { return user.capture(pane) == before; })) << "--- before:\n"
                                                                       << before << "\n--- after:\n"
                                                                       << user.capture(pane);
  // It is the foreground job: keys reach it; it writes what it kept.
  user.sendText(pane, ":wq");
  user.sendKeys(pane, {"Enter"});
  EXPECT_TRUE(user.waitForText(pane, "status=0")) << user.capture(pane);
  EXPECT_EQ(readFile(file), "first line\nsecond line\nunsaved edit 123\n");
}

TEST_F(ShellJob, VimRestoredIntoATerminalOfAnotherSizeTakesThatSize) {
  std::string file = h.workDir() + "/notes.txt";
  TmuxServer user(h, h.dir() + "/user.sock", "user", 80, 24, kShell);
  std::string before;
  ASSERT_NO_FATAL_FAILURE(vimDumped(user, file, &before));
  user.tmux({"new-session", "-d", "-s", "big", "-x", "132", "-y", "40", kShell});
  restoreIn(user, "big");
  ASSERT_TRUE(user.waitForText("big", "unsaved edit 123")) << user.capture("big");
  // vim reports the size it knows in its first line. It is told the true
  // size last (after the replay's other size), so ask until it says so.
  bool sized = false;
  for (int i = 0; i < 20 && !sized; ++i) {
    user.sendText("big", ":call setline(1, 'size ' . &columns . ' ' . &lines)");
    user.sendKeys("big", {"Enter"});
    sized = user.waitForText("big", "size 132 40", Seconds(1));
  }
  EXPECT_TRUE(sized) << user.capture("big");
  user.sendText("big", ":q!");
  user.sendKeys("big", {"Enter"});
  EXPECT_TRUE(user.waitForText("big", "status=0")) << user.capture("big");
}

TEST_F(ShellJob, DumpRefusesTheUsersTerminalWithoutTheFlag) {
  TmuxServer user(h, h.dir() + "/user.sock", "user", 80, 24, "cat");
  pid_t cat = user.panePid("user");
  auto r = h.runCkpt({"dump", std::to_string(cat), "-o", h.imageDir()});
  EXPECT_FALSE(r.status.ok());
  EXPECT_NE(r.err.find("--shell-job"), std::string::npos) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(h.imageDir()));
  EXPECT_TRUE(waitUntil([&] { return processState(cat) == 'S'; }))
      << "cat no longer waits after the failed dump (state " << processState(cat) << ")";
  EXPECT_NE(readFile("/proc/" + std::to_string(cat) + "/status").find("TracerPid:\t0\n"),
            std::string::npos)
      << "cat is still traced";
}

}  // namespace
}  // namespace ckpt::test
