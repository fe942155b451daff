// What `make install` and the Debian package ship beside the binary: bash
// completion that completes commands and options, and a manual page.
#include <gtest/gtest.h>

#include "Harness.hpp"

namespace ckpt::test {
namespace {

// The words bash would offer after typing `line` (the last word being
// completed), with bash-completion and ckpt's completion loaded.
std::string complete(Harness& h, const std::string& line) {
  std::string script =
      "source /usr/share/bash-completion/bash_completion; source " CKPT_SOURCE_DIR
      "/integrations/bash-completion/ckpt; COMP_LINE='" +
      line + "'; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<< \"$COMP_LINE\"; " +
      (line.back() == ' ' ? "COMP_WORDS+=(''); " : "") +
      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _ckpt; printf '%s\\n' \"${COMPREPLY[@]}\"";
  auto r = h.run({"bash", "-c", script});
  EXPECT_TRUE(r.status.ok()) << r.describe();
  return r.out;
}

TEST(Packaging, BashCompletesCommandsAndOptions) {
  Harness h;
  EXPECT_EQ(complete(h, "ckpt res"), "restore\n");
  EXPECT_EQ(complete(h, "ckpt dump --ki"), "--kill\n");
  EXPECT_EQ(complete(h, "ckpt x11 r"), "run\n");
  EXPECT_EQ(complete(h, "ckpt x11 run --pid"), "--pidfile\n");
  EXPECT_EQ(complete(h, "ckpt x11 m"), "move\n");
  EXPECT_EQ(complete(h, "ckpt x11 move 1 --dis"), "--display\n");
  EXPECT_EQ(complete(h, "ckpt restore x --dis"), "--display\n");
  EXPECT_EQ(complete(h, "ckpt vnc s"), "snapshot\n");
  EXPECT_EQ(complete(h, "ckpt vnc run --rfb"), "--rfbport\n");
  EXPECT_EQ(complete(h, "ckpt inspect --thu"), "--thumbnail\n");
  std::string restore = complete(h, "ckpt restore --");
  EXPECT_NE(restore.find("--shell-job"), std::string::npos) << restore;
  EXPECT_NE(restore.find("--detach"), std::string::npos) << restore;
  // A pid after dump: this test's own pid is one of the offers.
  std::string pids = complete(h, "ckpt dump ");
  EXPECT_NE(pids.find(std::to_string(getpid()) + "\n"), std::string::npos);
}

TEST(Packaging, ManualPageDescribesEveryCommand) {
  std::string page = CKPT_BUILD_DIR "/ckpt.1.gz";
  Harness h;
  auto r = h.run({"sh", "-c", "gzip -dc " + page});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  for (const char* cmd : {"dump", "restore", "inspect", "ls", "check", "migrate", "x11 run",
                          "x11 move", "vnc run", "vnc snapshot"})
    EXPECT_NE(r.out.find(std::string(".SS ckpt ") + cmd), std::string::npos) << cmd;
  EXPECT_NE(r.out.find("--shell-job"), std::string::npos);
}

}  // namespace
}  // namespace ckpt::test
