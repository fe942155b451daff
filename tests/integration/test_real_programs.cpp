// Real programs, not written for ckpt: a bash loop appending a counter to a
// file (numbers must continue after restore, no gap, no repeat), and
// `sleep 1000` (restored asleep, same pid and cmdline). python3 runs with
// the protocol programs (Programs.cpp).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/inotify.h>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::test {
namespace {

// Appends i = 1, 2, 3, ... to the file, one per line, every 10 ms; announces
// ready itself (then closes the fd so its children never hold it).
std::vector<std::string> bashCounter(const std::string& file) {
  return {systemProgram("bash"), "-c",
          "echo ready >&$CKPT_READY_FD; eval \"exec $CKPT_READY_FD>&-\"; "
          "i=0; while :; do i=$((i+1)); echo $i >> '" +
              file + "'; sleep 0.01; done"};
}

// The numbers in the file, or an explanation of what is wrong with them.
std::vector<long> readCounter(const std::string& file, std::string* error) {
  std::vector<long> out;
  std::string text = readFile(file);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) {
      *error = "unterminated last line \"" + text.substr(pos) + "\"";
      break;
    }
    std::string line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.empty() || line.find_first_not_of("0123456789") != std::string::npos) {
      *error = "bad line \"" + line + "\" after " + std::to_string(out.size()) + " lines";
      break;
    }
    out.push_back(std::stol(line));
  }
  return out;
}

::testing::AssertionResult countsFromOne(const std::vector<long>& nums, const std::string& err) {
  if (!err.empty()) return ::testing::AssertionFailure() << err;
  for (size_t i = 0; i < nums.size(); i++)
    if (nums[i] != static_cast<long>(i) + 1)
      return ::testing::AssertionFailure()
             << "line " << i + 1 << " holds " << nums[i] << " (a "
             << (nums[i] <= static_cast<long>(i) ? "repeat" : "gap") << ")";
  return ::testing::AssertionSuccess();
}

// Waits (inotify, bounded) until the file has at least n lines.
bool waitForLines(const std::string& file, size_t n, Clock::duration timeout = kTimeout) {
  return waitForFile(
      file,
      [&] {
        std::string err;
        return readCounter(file, &err).size() >= n;
      },
      timeout);
}

void writeEmpty(const std::string& file) {
  UniqueFd(open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
}

class RealPrograms : public CkptTest {};

TEST_F(RealPrograms, BashCounterContinues) {
  const std::string file = h.workDir() + "/counter.txt";
  writeEmpty(file);
  pid_t pid = h.spawn(bashCounter(file));
  ASSERT_TRUE(waitForLines(file, 20)) << "the counter does not count";
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  std::string err;
  auto before = readCounter(file, &err);
  ASSERT_TRUE(countsFromOne(before, err)) << "before restore";

  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_TRUE(waitForLines(file, before.size() + 20))
      << "the restored counter does not count on from " << before.size();
  kill(-restored, SIGKILL);  // its process group: bash and its sleep
  h.killAll();
  auto after = readCounter(file, &err);
  EXPECT_TRUE(countsFromOne(after, err)) << "after restore (dumped at " << before.size() << ")";
}

TEST_F(RealPrograms, SleepRestoredAsleep) {
  pid_t pid = h.spawn({systemProgram("sleep"), "1000"}, Ready::Exec);
  const std::string proc = "/proc/" + std::to_string(pid);
  ASSERT_TRUE(waitUntil([&] { return processState(pid) == 'S'; })) << "sleep never slept";
  const std::string cmdline = readFile(proc + "/cmdline");
  ASSERT_EQ(cmdline, systemProgram("sleep") + '\0' + "1000" + '\0');
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  EXPECT_TRUE(waitUntil([&] { return processState(restored) == 'S'; }))
      << "restored sleep is in state " << processState(restored);
  EXPECT_EQ(readFile(proc + "/cmdline"), cmdline);
  std::string status = readFile(proc + "/status");
  EXPECT_NE(status.find("TracerPid:\t0\n"), std::string::npos) << "restored sleep is traced";
  ASSERT_EQ(kill(restored, SIGKILL), 0);
  auto st = h.waitExit(restored);
  EXPECT_TRUE(st.kind == ExitStatus::Signaled && st.code == SIGKILL) << st.describe();
}

// A job stopped with SIGSTOP (Ctrl-Z) stays stopped through a dump that lets
// it run on, and comes back stopped; SIGCONT wakes it as before.
TEST_F(RealPrograms, StoppedJobStaysStopped) {
  pid_t pid = h.spawn({systemProgram("sleep"), "1000"}, Ready::Exec);
  ASSERT_TRUE(waitUntil([&] { return processState(pid) == 'S'; })) << "sleep never slept";
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  ASSERT_TRUE(waitUntil([&] { return processState(pid) == 'T'; })) << "sleep did not stop";
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_TRUE(waitUntil([&] { return processState(pid) == 'T'; }, std::chrono::seconds(5)))
      << "the dump let a stopped job run: state " << processState(pid);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  h.waitExit(pid);
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  EXPECT_TRUE(waitUntil([&] { return processState(restored) == 'T'; }, std::chrono::seconds(5)))
      << "restored job is in state " << processState(restored) << ", not stopped";
  ASSERT_EQ(kill(restored, SIGCONT), 0);
  EXPECT_TRUE(waitUntil([&] { return processState(restored) == 'S'; }))
      << "SIGCONT did not wake the restored job: state " << processState(restored);
  ASSERT_EQ(kill(restored, SIGKILL), 0);
  h.waitExit(restored);
}

// The same helpers without ckpt, so a broken helper is not mistaken for a
// broken restore.
class RealProgramsSelfCheck : public CkptTest {};

TEST_F(RealProgramsSelfCheck, BashCounterCounts) {
  const std::string file = h.workDir() + "/counter.txt";
  writeEmpty(file);
  pid_t pid = h.spawn(bashCounter(file));
  ASSERT_TRUE(waitForLines(file, 20));
  kill(-pid, SIGKILL);
  h.killAll();
  std::string err;
  auto nums = readCounter(file, &err);
  EXPECT_GE(nums.size(), 20u);
  EXPECT_TRUE(countsFromOne(nums, err));
  std::string gap;
  EXPECT_FALSE(countsFromOne({1, 2, 4}, gap)) << "a gap must be caught";
  EXPECT_FALSE(countsFromOne({1, 2, 2, 3}, gap)) << "a repeat must be caught";
}

TEST_F(RealProgramsSelfCheck, SleepSleeps) {
  pid_t pid = h.spawn({systemProgram("sleep"), "1000"}, Ready::Exec);
  EXPECT_TRUE(waitUntil([&] { return processState(pid) == 'S'; }));
  kill(pid, SIGKILL);
  EXPECT_EQ(h.waitExit(pid).code, SIGKILL);
}

}  // namespace
}  // namespace ckpt::test
