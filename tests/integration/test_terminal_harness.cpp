// The tmux-based test terminal works: the checks every terminal test relies on.
#include <gtest/gtest.h>

#include "Terminal.hpp"

namespace ckpt::test {
namespace {

TEST(TerminalHarness, PaneShowsOutputTakesInputAndHasItsSize) {
  Harness h;
  TmuxServer t(h, h.dir() + "/tmux.sock", "main", 100, 30, "stty size; cat");
  ASSERT_TRUE(t.waitForText("main", "30 100")) << t.capture("main");
  t.sendText("main", "typed-here");
  t.sendKeys("main", {"Enter"});
  ASSERT_TRUE(t.waitForText("main", "typed-here\ntyped-here")) << t.capture("main");
  pid_t server = t.serverPid();
  EXPECT_GT(server, 0);
  std::string pane = t.newWindow("main", "printf '\\033[1;31mred\\033[0m'; cat");
  ASSERT_TRUE(t.waitForText(pane, "red"));
  EXPECT_NE(t.capture(pane).find("\033[1m\033[31mred"), std::string::npos) << t.capture(pane);
  EXPECT_EQ(t.paneTty(pane).rfind("/dev/pts/", 0), 0u);
}

}  // namespace
}  // namespace ckpt::test
