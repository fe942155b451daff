// ckpt killed with SIGKILL at random moments of a dump: whatever it was doing
// (freezing, injected calls, reading pages, writing the image), the program
// is never left stopped, traced, with anything of ckpt in it or with changed
// registers, and passes its own checks (tests/programs/sturdy.cpp).
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <random>
#include <thread>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

constexpr int kRuns = 50;

class KillMidDump : public CkptTest {};

TEST_F(KillMidDump, ProgramAlwaysUnharmed) {
  // How long a whole dump of this program takes, ckpt's start included (the
  // quickest of three: the first one also warms the caches).
  Clock::duration whole = std::chrono::hours(1);
  {
    pid_t pid = h.spawn(programCase("sturdy"));
    for (int i = 0; i < 3; ++i) {
      auto t0 = Clock::now();
      ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir("whole" + std::to_string(i)), false));
      whole = std::min(whole, Clock::now() - t0);
    }
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after whole dumps"));
  }
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(whole).count();
  unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  std::uniform_int_distribution<long> delay(0, us);
  int killedMidway = 0;
  for (int run = 0; run < kRuns; ++run) {
    long at = delay(rng);
    SCOPED_TRACE("run " + std::to_string(run) + ": SIGKILL after " + std::to_string(at) +
                 " us of a " + std::to_string(us) + " us dump (seed " + std::to_string(seed) + ")");
    pid_t pid = h.spawn(programCase("sturdy"));
    auto tree = Harness::treePids(pid);
    const std::string img = h.imageDir("run" + std::to_string(run));
    RunningCommand cmd = h.startCkpt({"dump", std::to_string(pid), "-o", img});
    std::this_thread::sleep_for(std::chrono::microseconds(at));
    kill(cmd.pid, SIGKILL);
    auto r = h.finish(cmd, kTimeout, false);
    if (r.status.kind == ExitStatus::Signaled) {
      ++killedMidway;
      // Killed after the rename, the image is complete; before, there is none.
      if (std::filesystem::exists(img)) {
        auto i = h.runCkpt({"inspect", img});
        EXPECT_TRUE(i.status.ok()) << "a killed dump left an incomplete image\n" << i.describe();
      }
    } else {
      EXPECT_TRUE(r.status.ok()) << r.describe();
    }
    ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(tree));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after ckpt was killed"));
    ASSERT_TRUE(h.reapAll());
  }
  // How many kills landed inside a dump depends on the machine's load: it is
  // reported, not asserted (no timing assertions in tests).
  std::cerr << "ckpt killed mid-dump in " << killedMidway << " of " << kRuns
            << " runs (a whole dump takes " << us << " us)\n";
}

}  // namespace
}  // namespace ckpt::test
