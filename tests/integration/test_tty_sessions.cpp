// Terminal sessions inside the tree: a tmux server and a detached screen
// session, dumped with --kill and restored; what ran in them runs on and
// their screens are what they were.
#include <fcntl.h>
#include <stdlib.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "CkptTest.hpp"
#include "Terminal.hpp"

namespace ckpt::test {
namespace {

// Counts lines, one every tenth of a second.
const std::string kCounterScript =
    "i=0; while :; do i=$((i+1)); echo \"count $i\"; sleep 0.1; done";
const std::string kCounter = "sh -c '" + kCounterScript + "'";

// Windows and their layouts (names follow the running program and are
// refreshed by tmux on its own schedule).
constexpr const char* kLayout = "#{window_index} #{window_layout} #{window_active}";

// The numbers of the "count N" lines, in order.
std::vector<int> counts(const std::string& text) {
  std::vector<int> out;
  static const std::regex line(R"(count (\d+))");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), line); it != std::sregex_iterator();
       ++it)
    out.push_back(std::stoi((*it)[1]));
  return out;
}

// Every number from 1 to the last, once, in order: no gap, no repeat.
void expectUnbroken(const std::vector<int>& seq) {
  ASSERT_FALSE(seq.empty());
  for (size_t i = 0; i < seq.size(); ++i)
    ASSERT_EQ(seq[i], int(i) + 1) << "the counter skipped or repeated at line " << i;
}

// Opens new ptys until every one of `names` (/dev/pts/N) is held by one.
class HeldPtys {
 public:
  explicit HeldPtys(const std::vector<std::string>& names) {
    std::set<std::string> want(names.begin(), names.end());
    for (int i = 0; i < 256 && !want.empty(); ++i) {
      int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
      if (fd < 0) break;
      fds_.push_back(fd);
      want.erase(ptsname(fd));
    }
    EXPECT_TRUE(want.empty()) << "could not take every old pty number";
  }
  ~HeldPtys() {
    for (int fd : fds_) close(fd);
  }

 private:
  std::vector<int> fds_;
};

class TtySessions : public CkptTest {
 protected:
  // Dumps the tree at `root` with --kill and restores it detached (same pid).
  void dumpKillRestore(pid_t root) {
    auto tree = Harness::treePids(root);
    ASSERT_NO_FATAL_FAILURE(dump(root, h.imageDir(), true));
    ASSERT_NO_FATAL_FAILURE(expectGone(root, tree));
    pid_t restored = -1;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), root, &restored));
  }
};

TEST_F(TtySessions, TmuxServerWithCounterVimTopAndPython) {
  std::string file = h.workDir() + "/notes.txt";
  std::ofstream(file) << "first line\n";
  TmuxServer inner(h, h.dir() + "/inner.sock", "work", 90, 25, kCounter);
  std::string vim = inner.newWindow("work", "vim -u NONE -i NONE -N " + file);
  std::string top = inner.newWindow("work", "top -d 0.3");
  std::string py = inner.newWindow("work", "python3 -q");
  ASSERT_TRUE(inner.waitForText(vim, "first line"));
  inner.sendKeys(vim, {"o"});
  inner.sendText(vim, "unsaved edit 123");
  inner.sendKeys(vim, {"Escape"});
  ASSERT_TRUE(inner.waitForText(vim, "unsaved edit 123"));
  ASSERT_TRUE(inner.waitForText(py, ">>>"));
  inner.sendText(py, "x = 41");
  inner.sendKeys(py, {"Enter"});
  ASSERT_TRUE(inner.waitForText(top, "load average"));
  ASSERT_TRUE(inner.waitForText("work:0", "count 5"));
  std::string vimBefore = inner.capture(vim),
              layoutBefore = inner.tmux({"list-windows", "-F", kLayout});
  std::string pyBefore = inner.capture(py);

  std::vector<std::string> ttysBefore;
  for (const auto& pane : {std::string("work:0"), vim, top, py})
    ttysBefore.push_back(inner.paneTty(pane));

  pid_t server = inner.serverPid();
  auto tree = Harness::treePids(server);
  ASSERT_NO_FATAL_FAILURE(dump(server, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(server, tree));
  // Other terminals take the freed /dev/pts numbers meanwhile.
  HeldPtys held(ttysBefore);
  pid_t restored = -1;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), server, &restored));
  // (tmux keeps the old names in its memory; the processes have new ones.)
  auto ttyOf = [](pid_t pid) {
    return std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/fd/0").string();
  };
  EXPECT_NE(ttyOf(inner.panePid(vim)), ttysBefore[1]);

  // Same windows and layouts, the same screens.
  EXPECT_EQ(inner.tmux({"list-windows", "-F", kLayout}), layoutBefore);
  EXPECT_EQ(inner.capture(vim), vimBefore);
  EXPECT_EQ(inner.capture(py), pyBefore);
  // The counter counts on from where it was, without a gap.
  int last = counts(inner.captureHistory("work:0")).back();
  ASSERT_TRUE(inner.waitForText("work:0", "count " + std::to_string(last + 3)));
  expectUnbroken(counts(inner.captureHistory("work:0")));
  // top keeps refreshing.
  std::string topNow = inner.capture(top, false);
  EXPECT_TRUE(waitUntil([&] { return inner.capture(top, false) != topNow; }))
      << "top's screen no longer changes";
  // The REPL has its variable; vim its unsaved edit, which it can still write.
  inner.sendText(py, "print(x + 1)");
  inner.sendKeys(py, {"Enter"});
  EXPECT_TRUE(inner.waitForText(py, "42")) << inner.capture(py);
  inner.sendText(vim, ":wq");
  inner.sendKeys(vim, {"Enter"});
  EXPECT_TRUE(waitUntil([&] { return readFile(file) == "first line\nunsaved edit 123\n"; }))
      << "vim wrote: " << readFile(file);

  // A client attaches from another terminal and sees the session.
  TmuxServer outer(h, h.dir() + "/outer.sock", "user", 90, 25,
                   "env -u TMUX tmux -S " + inner.socket() + " attach -t work:0");
  EXPECT_TRUE(outer.waitForText("user", "count " + std::to_string(last + 5)))
      << outer.capture("user");
}

TEST_F(TtySessions, DetachedScreenSession) {
  std::string name = "ckpt-test-" + std::to_string(getpid());
  auto r = h.run({"screen", "-dmS", name, "sh", "-c", kCounterScript});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  // screen -ls: "\t<pid>.<name>\t(...)"
  pid_t server = -1;
  ASSERT_TRUE(waitUntil([&] {
    auto ls = h.run({"screen", "-ls", name});
    std::smatch m;
    if (!std::regex_search(ls.out, m, std::regex(R"((\d+)\.)" + name))) return false;
    server = std::stoi(m[1]);
    return true;
  }));
  std::string copy = h.dir() + "/hardcopy.txt";
  auto screenText = [&] {
    std::filesystem::remove(copy);
    h.run({"screen", "-S", name, "-p", "0", "-X", "hardcopy", copy});
    return readFile(copy);
  };
  ASSERT_TRUE(waitUntil([&] { return screenText().find("count 5") != std::string::npos; }));

  ASSERT_NO_FATAL_FAILURE(dumpKillRestore(server));

  // The restored server may not write a hardcopy at once: no counts yet.
  int last = -1;
  ASSERT_TRUE(waitUntil([&] {
    auto c = counts(screenText());
    if (c.empty()) return false;
    last = c.back();
    return true;
  })) << screenText();
  EXPECT_TRUE(waitUntil([&] {
    auto c = counts(screenText());
    return !c.empty() && c.back() >= last + 3;
  })) << screenText();
  // Attached from a terminal, it shows the running counter.
  TmuxServer outer(h, h.dir() + "/outer.sock", "user", 80, 24, "screen -r " + name);
  EXPECT_TRUE(outer.waitForText("user", "count " + std::to_string(last + 5)))
      << outer.capture("user");
  h.run({"screen", "-S", name, "-X", "quit"});
}

}  // namespace
}  // namespace ckpt::test
