// The progress line of dump and restore: on a terminal (script(1) gives
// ckpt a pty as stderr) it shows and is cleared; with -q, or with stderr
// not a terminal, nothing. CKPT_PROGRESS_DELAY_MS=0 shows it at once, so
// the test does not depend on how long the dump takes.
#include <gtest/gtest.h>
#include <stdio.h>

#include <fmt/format.h>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "Terminal.hpp"

namespace ckpt::test {
namespace {

// Runs `command` through sh; returns what it printed (stdout and stderr).
std::string output(const std::string& command) {
  std::string out;
  FILE* f = popen((command + " 2>&1").c_str(), "r");
  if (!f) return out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  pclose(f);
  return out;
}

class Progress : public CkptTest {};

TEST_F(Progress, ShownOnATerminalOnly) {
  pid_t pid = h.spawn({programPath("mem_big"), "64"});
  std::string ckpt = ckptBinary();
  auto dump = [&](const std::string& name, const std::string& how) {
    std::string dir = h.workDir() + "/" + name;
    return output(fmt::format(
        "CKPT_PROGRESS_DELAY_MS=0 {}",
        how == "tty" ? fmt::format("script -qec '{} dump {} -o {}' /dev/null", ckpt, pid, dir)
        : how == "quiet"
            ? fmt::format("script -qec '{} -q dump {} -o {}' /dev/null", ckpt, pid, dir)
            : fmt::format("{} dump {} -o {}", ckpt, pid, dir)));
  };
  std::string tty = dump("tty", "tty");
  EXPECT_NE(tty.find("dump: "), std::string::npos) << tty;
  EXPECT_NE(tty.find(" MiB"), std::string::npos) << tty;
  std::string quiet = dump("quiet", "quiet");
  EXPECT_EQ(quiet.find("dump: "), std::string::npos) << quiet;
  std::string pipe = dump("pipe", "pipe");
  EXPECT_EQ(pipe.find("dump: "), std::string::npos) << pipe;
}

}  // namespace
}  // namespace ckpt::test
