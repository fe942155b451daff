// Every protocol program dumped and restored by ckpt: (a) dump leaving it
// running (the original must still pass), then restore the image; (b) dump
// --kill, then restore. Plus restoring one image twice, and a foreground
// restore whose exit status is the root's.
#include <gtest/gtest.h>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class DumpRestore : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(DumpRestore, LeaveRunning) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(leaveRunningRestoreAndCheck(pid, h.imageDir()));
}

TEST_P(DumpRestore, Kill) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(Programs, DumpRestore, ::testing::ValuesIn(protocolPrograms()),
                         [](const auto& info) { return caseName(info.param); });

// An image is not consumed by a restore: the same one restores twice.
class RestoreTwice : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(RestoreTwice, SameImage) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(restoreTwiceAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(Programs, RestoreTwice,
                         ::testing::Values(programCase("mem_anon"), programCase("fds"),
                                           programCase("tree")),
                         [](const auto& info) { return caseName(info.param); });

// Foreground restore: `ckpt restore DIR` runs until the root exits and exits
// with its status. It prints nothing we can wait for, so the test waits
// until the restored root (same pid as before) runs the program again, is
// traced by nobody and sleeps in its wait for SIGUSR1.
class ForegroundRestore : public CkptTest {
 protected:
  // Starts the foreground restore of a dumped and killed mem_anon; *pid is
  // the root's pid, running again once this returns.
  void startRestored(RunningCommand* cmd, pid_t* pid) {
    *pid = h.spawn(programCase("mem_anon"));
    const std::string exe = programPath("mem_anon");
    auto tree = Harness::treePids(*pid);
    ASSERT_NO_FATAL_FAILURE(dump(*pid, h.imageDir(), true));
    ASSERT_NO_FATAL_FAILURE(expectGone(*pid, tree));
    std::vector<std::string> args{"restore", h.imageDir()};
    args.insert(args.end(), restoreArgs.begin(), restoreArgs.end());
    *cmd = h.startCkpt(args);
    const pid_t root = *pid, ckpt = cmd->pid;
    bool running = waitUntil([&] {
      if (processState(ckpt) == 'Z' || processState(ckpt) == '?') return true;  // gave up
      std::string status = readFile("/proc/" + std::to_string(root) + "/status");
      char exeLink[4096] = {};
      if (readlink(("/proc/" + std::to_string(root) + "/exe").c_str(), exeLink,
                   sizeof exeLink - 1) <= 0)
        return false;
      return exe == exeLink && status.find("TracerPid:\t0\n") != std::string::npos &&
             processState(root) == 'S';
    });
    if (processState(ckpt) == 'Z') {
      auto r = h.finish(*cmd);
      FAIL() << "foreground restore exited before the tree ran\n" << r.describe();
    }
    if (!running) {
      auto r = h.finish(*cmd, Seconds(1));
      FAIL() << "the restored root " << root << " never ran untraced in state S\n" << r.describe();
    }
  }

  // The root passes its checks and ckpt exits with its status (0).
  void expectExitsWithTheRootStatus() {
    RunningCommand cmd;
    pid_t pid;
    ASSERT_NO_FATAL_FAILURE(startRestored(&cmd, &pid));
    ASSERT_EQ(kill(pid, SIGUSR1), 0);
    auto r = h.finish(cmd);
    EXPECT_TRUE(r.status.ok()) << "ckpt restore must exit with the root's status (0)\n"
                               << r.describe();
    EXPECT_FALSE(pidExists(pid)) << "the restored root is still there";
  }
};

TEST_F(ForegroundRestore, ExitsWithTheRootStatus) {
  expectExitsWithTheRootStatus();
}

// With --lazy, ckpt also serves the pages until all are in, then exits as
// above.
TEST_F(ForegroundRestore, LazyExitsWithTheRootStatus) {
  restoreArgs = {"--lazy"};
  expectExitsWithTheRootStatus();
}

TEST_F(ForegroundRestore, ReportsAKilledRoot) {
  RunningCommand cmd;
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(startRestored(&cmd, &pid));
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  auto r = h.finish(cmd);
  EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
  EXPECT_NE(r.status.code, 0) << "a root killed by SIGKILL must not look like success "
                                 "(shell convention: 137)\n"
                              << r.describe();
}

}  // namespace
}  // namespace ckpt::test
