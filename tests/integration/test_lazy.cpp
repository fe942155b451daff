// `ckpt restore --lazy`: the tree runs before its private memory is back;
// programs that check their memory pass whatever they do while pages are
// still arriving (threads, fork, madvise, munmap, mremap), from plain,
// compressed and incremental images; a page server that dies takes the tree
// with it instead of leaving it on zero-filled memory. Also huge pages: an
// area that had them has them again after restore, eager or lazy.
#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class Lazy : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {
 protected:
  void SetUp() override { restoreArgs = {"--lazy"}; }
};

TEST_P(Lazy, Kill) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(Programs, Lazy,
                         ::testing::Values(programCase("mem_anon"), programCase("mem_big"),
                                           programCase("mem_live"), programCase("threads"),
                                           programCase("tree"), programCase("shm")),
                         [](const auto& info) { return caseName(info.param); });

class LazyMemory : public CkptTest {
 protected:
  void SetUp() override { restoreArgs = {"--lazy"}; }
  void roundTrip(const std::string& mode, const std::string& mib) {
    pid_t pid = h.spawn({programPath("lazy_mem"), mode, mib});
    ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
  }
  // Starts argv, dumps it with --kill and waits until its pids are free.
  void spawnDumpKilled(const std::vector<std::string>& argv, pid_t* pid) {
    *pid = h.spawn(argv);
    auto tree = Harness::treePids(*pid);
    ASSERT_NO_FATAL_FAILURE(dump(*pid, h.imageDir(), true));
    ASSERT_NO_FATAL_FAILURE(expectGone(*pid, tree));
  }
  // restore --lazy --detach --json: returns once every page is in.
  void restoreJson(const std::string& dir, pid_t expectPid, nlohmann::json* out) {
    auto r = h.runCkpt({"restore", dir, "--lazy", "--detach", "--json"});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    *out = nlohmann::json::parse(r.out);
    ASSERT_EQ((*out)["root"].get<pid_t>(), expectPid) << r.describe();
  }
};

TEST_F(LazyMemory, ThreadsTouchingAtOnce) {
  roundTrip("threads", "128");
}

TEST_F(LazyMemory, ForkWhilePagesArrive) {
  roundTrip("fork", "128");
}

TEST_F(LazyMemory, ZapUnmapAndMoveWhilePagesArrive) {
  roundTrip("zap", "128");
}

TEST_F(LazyMemory, CompressedImage) {
  dumpArgs = {"--compress", "zstd"};
  roundTrip("threads", "64");
}

TEST_F(LazyMemory, IncrementalImage) {
  pid_t pid = h.spawn({programPath("mem_changes"), "32"});
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir("full"), false));
  ASSERT_EQ(kill(pid, SIGUSR2), 0);
  ASSERT_TRUE(waitForFile(h.logPath(), [&] {
    return readFile(h.logPath()).find("changed 1\n") != std::string::npos;
  })) << "mem_changes never changed its pages";
  dumpArgs = {"--parent", h.imageDir("full")};
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir("incr"), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir("incr"), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program from the incremental image"));
}

TEST_F(LazyMemory, JsonTellsWhenRunningAndWhenEveryPageIsIn) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(spawnDumpKilled({programPath("mem_big"), "64"}, &pid));
  nlohmann::json j;
  ASSERT_NO_FATAL_FAILURE(restoreJson(h.imageDir(), pid, &j));
  EXPECT_TRUE(j["lazy"].get<bool>()) << j.dump();
  EXPECT_GT(j["running_ms"].get<double>(), 0) << j.dump();
  EXPECT_GE(j["pages_ms"].get<double>(), j["running_ms"].get<double>()) << j.dump();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the restored program"));
}

// The page server SIGKILLs itself after its first background copy
// (CKPT_FAULT=lazy.copy:crash): the tree must die, not read zeros.
TEST_F(LazyMemory, ServerDeathKillsTheTree) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(spawnDumpKilled({programPath("mem_big"), "256"}, &pid));
  setenv("CKPT_FAULT", "lazy.copy:crash", 1);
  auto r = h.runCkpt({"restore", h.imageDir(), "--lazy", "--detach"});
  unsetenv("CKPT_FAULT");
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  kill(pid, SIGUSR1);  // it may be dead already
  auto st = h.waitExit(pid);
  EXPECT_TRUE(st.kind == ExitStatus::Signaled && st.code == SIGKILL)
      << "the restored program " << st.describe()
      << " after its page server died; it must be killed";
  EXPECT_NE(readFile(h.imageDir() + "/lazy.log").find("killing the restored tree"),
            std::string::npos)
      << "lazy.log: " << readFile(h.imageDir() + "/lazy.log");
}

// THP is "madvise" on the machines this runs on; with "never" there is
// nothing to get back.
bool thpNever() {
  return readFile("/sys/kernel/mm/transparent_hugepage/enabled").find("[never]") !=
         std::string::npos;
}

class HugePages : public LazyMemory {};

TEST_F(HugePages, ComeBackAfterAnEagerRestore) {
  if (thpNever()) GTEST_SKIP() << "transparent huge pages are off (never) here";
  restoreArgs.clear();
  roundTrip("huge", "64");
}

TEST_F(HugePages, ComeBackAfterALazyRestore) {
  if (thpNever()) GTEST_SKIP() << "transparent huge pages are off (never) here";
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(spawnDumpKilled({programPath("lazy_mem"), "huge", "64"}, &pid));
  nlohmann::json j;
  ASSERT_NO_FATAL_FAILURE(restoreJson(h.imageDir(), pid, &j));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the restored program"));
}

}  // namespace
}  // namespace ckpt::test
