// gtest fixture for tests that dump and restore: one Harness (temp dir,
// subreaper, cleanup) per test, the common steps as assertion helpers, and
// the full report printed when a test fails.
#pragma once

#include <gtest/gtest.h>
#include <signal.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "Harness.hpp"

namespace ckpt::test {

class CkptTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) std::cerr << h.report() << std::flush;
  }

  // Call each with ASSERT_NO_FATAL_FAILURE(...).

  // `ckpt dump PID -o DIR [--kill]` must succeed. Without --kill, no
  // process of the tree may be left stopped or traced.
  void dump(pid_t pid, const std::string& dir, bool kill) {
    auto tree = Harness::treePids(pid);
    std::vector<std::string> args{"dump", std::to_string(pid), "-o", dir};
    if (kill) args.push_back("--kill");
    args.insert(args.end(), dumpArgs.begin(), dumpArgs.end());
    auto r = h.runCkpt(args);
    ASSERT_TRUE(r.status.ok()) << r.describe();
    ASSERT_TRUE(std::filesystem::is_directory(dir)) << "no image directory " << dir << "\n"
                                                    << r.describe();
    if (kill) return;
    for (pid_t p : tree) {
      char st = processState(p);
      EXPECT_TRUE(st != 'T' && st != 't' && st != '?')
          << "after the dump, pid " << p << " of the tree is in state " << st;
      std::string status = readFile("/proc/" + std::to_string(p) + "/status");
      EXPECT_NE(status.find("TracerPid:\t0\n"), std::string::npos)
          << "after the dump, pid " << p << " is still traced";
    }
  }

  // Every task of the tree runs on its own: none is stopped or traced.
  void expectRunningUntraced(const std::vector<pid_t>& tree) {
    for (pid_t p : tree)
      for (const auto& task :
           std::filesystem::directory_iterator("/proc/" + std::to_string(p) + "/task")) {
        std::string status = readFile(task.path().string() + "/status");
        EXPECT_NE(status.find("TracerPid:\t0\n"), std::string::npos)
            << "task " << task.path() << " is still traced";
        EXPECT_EQ(status.find("State:\tt"), std::string::npos)
            << "task " << task.path() << " is left stopped";
        EXPECT_EQ(status.find("State:\tT"), std::string::npos)
            << "task " << task.path() << " is left stopped";
      }
  }

  // After `dump --kill`: the root dies, and every pid of the tree is free
  // again (reaped here, as the subreaper), so restore can take them.
  void expectGone(pid_t pid, const std::vector<pid_t>& tree) {
    auto st = h.waitExit(pid);
    ASSERT_TRUE(st.kind == ExitStatus::Signaled || st.kind == ExitStatus::Exited)
        << "the dumped root " << pid << " " << st.describe() << " after dump --kill";
    ASSERT_TRUE(h.reapAll()) << "processes of the dumped tree are still alive";
    for (pid_t p : tree) ASSERT_FALSE(pidExists(p)) << "pid " << p << " is still taken";
  }

  // `ckpt restore DIR --detach` must succeed and print the root pid, which
  // restore keeps: it must equal `expectPid`.
  void restoreDetached(const std::string& dir, pid_t expectPid, pid_t* restored) {
    *restored = -1;
    std::vector<std::string> args{"restore", dir, "--detach"};
    args.insert(args.end(), restoreArgs.begin(), restoreArgs.end());
    auto r = h.runCkpt(args);
    ASSERT_TRUE(r.status.ok()) << r.describe();
    pid_t pid = parsePidLine(r.out);
    ASSERT_GT(pid, 0) << "restore --detach must print the root pid on one line\n" << r.describe();
    *restored = pid;
    ASSERT_EQ(pid, expectPid) << "restore changed the root pid\n" << r.describe();
  }

  // SIGUSR1 to the root; it must check its state and exit 0.
  void wakeAndExpectPass(pid_t pid, const std::string& who) {
    ASSERT_EQ(kill(pid, SIGUSR1), 0) << who << " (pid " << pid << ") is gone: " << strerror(errno);
    auto st = h.waitExit(pid);
    ASSERT_TRUE(st.ok()) << who << " (pid " << pid << ") " << st.describe()
                         << "; its checks are in the program log below";
  }

  // Dump --kill a running program, restore it detached, wake it: exit 0.
  void killRestoreAndCheck(pid_t pid, const std::string& dir) {
    auto tree = Harness::treePids(pid);
    ASSERT_NO_FATAL_FAILURE(dump(pid, dir, true));
    ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(dir, pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
  }

  // Dump a running program leaving it running; the original must pass its
  // checks; then restore the image and the restored tree must pass too.
  void leaveRunningRestoreAndCheck(pid_t pid, const std::string& dir) {
    ASSERT_NO_FATAL_FAILURE(dump(pid, dir, false));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
    ASSERT_TRUE(h.reapAll()) << "the original tree left processes behind";
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(dir, pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
  }

  // An image is not consumed by a restore: dump --kill, then restore it twice.
  void restoreTwiceAndCheck(pid_t pid, const std::string& dir) {
    auto tree = Harness::treePids(pid);
    ASSERT_NO_FATAL_FAILURE(dump(pid, dir, true));
    ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
    for (int round = 1; round <= 2; round++) {
      SCOPED_TRACE("restore #" + std::to_string(round));
      pid_t restored;
      ASSERT_NO_FATAL_FAILURE(restoreDetached(dir, pid, &restored));
      ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
      ASSERT_TRUE(h.reapAll()) << "the restored tree left processes behind";
    }
  }

  Harness h;
  // Added to every dump() (--compress zstd, ...).
  std::vector<std::string> dumpArgs;
  // Added to every restoreDetached() (--lazy, ...).
  std::vector<std::string> restoreArgs;
};

}  // namespace ckpt::test
