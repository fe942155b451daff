// Fault injection (CKPT_FAULT, core/util/Fault.hpp): ckpt fails or kills
// itself at every named point of dump and restore. A dump that fails never
// harms the program and never leaves a complete-looking image; a restore that
// fails leaves nothing of the tree running and every pid free.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "core/util/Fault.hpp"

namespace ckpt::test {
namespace {

struct FaultCase {
  std::string point;
  bool crash = false;
};

// Every point whose name starts with `phase`, each as an error and as a crash.
std::vector<FaultCase> faultsOf(const std::string& phase) {
  std::vector<FaultCase> out;
  for (const auto& p : fault::kPoints)
    if (p.name.starts_with(phase))
      for (bool crash : {false, true}) out.push_back({std::string(p.name), crash});
  return out;
}

bool afterCommit(const std::string& point) {
  for (const auto& p : fault::kPoints) {
    if (p.name == fault::kFirstPointAfterCommit) return true;
    if (p.name == point) return false;
  }
  return false;
}

// For gtest messages ("where GetParam() = ...").
void PrintTo(const FaultCase& f, std::ostream* os) {
  *os << f.point << (f.crash ? ":crash" : "");
}

// CKPT_FAULT for the ckpt runs of one scope (they inherit the environment).
class ScopedFault {
 public:
  explicit ScopedFault(const std::string& spec) { setenv("CKPT_FAULT", spec.c_str(), 1); }
  explicit ScopedFault(const FaultCase& f) : ScopedFault(f.point + (f.crash ? ":crash" : "")) {}
  ~ScopedFault() { unsetenv("CKPT_FAULT"); }
};

class Faults : public CkptTest, public ::testing::WithParamInterface<FaultCase> {
 protected:
  // How ckpt must have ended: killed by itself, or one line naming the point.
  void expectFailed(const CommandResult& r) {
    const FaultCase& f = GetParam();
    if (f.crash) {
      EXPECT_TRUE(r.status.kind == ExitStatus::Signaled && r.status.code == SIGKILL)
          << r.describe();
    } else {
      EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
      EXPECT_NE(r.status.code, 0) << r.describe();
      EXPECT_NE(r.err.find("fault injected at " + f.point), std::string::npos) << r.describe();
    }
  }
};

class DumpFaults : public Faults {};
class RestoreFaults : public Faults {};

TEST_P(DumpFaults, ProgramUnharmedAndNoImage) {
  const FaultCase& f = GetParam();
  pid_t pid = h.spawn(programCase("sturdy"));
  auto tree = Harness::treePids(pid);
  const std::string img = h.imageDir();
  std::vector<std::string> args{"dump", std::to_string(pid), "-o", img};
  // sturdy is small enough to be copied frozen: pre-copy's own points are
  // met with it tracked all the same.
  if (f.point.starts_with("dump.precopy") && f.point != "dump.precopy-small")
    args.insert(args.end(), {"--pre-copy-min", "0"});
  CommandResult r;
  {
    ScopedFault on(f);
    r = h.runCkpt(args);
  }
  expectFailed(r);
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(tree));
  if (afterCommit(f.point)) {
    auto i = h.runCkpt({"inspect", img});
    EXPECT_TRUE(i.status.ok()) << "the image was committed before this point\n" << i.describe();
  } else {
    EXPECT_FALSE(std::filesystem::exists(img)) << "a failed dump left an image";
    if (!f.crash) {
      EXPECT_FALSE(std::filesystem::exists(img + ".partial")) << "a failed dump left its .partial";
    }
    if (std::filesystem::exists(img + ".partial")) {
      auto rr = h.runCkpt({"restore", img + ".partial", "--detach"});
      EXPECT_NE(rr.status.code, 0) << "a .partial was restored\n" << rr.describe();
      EXPECT_NE(rr.err.find("did not finish"), std::string::npos) << rr.describe();
      EXPECT_EQ(rr.out, "");
      // The next dump to the same place clears what the dead one left.
      ASSERT_NO_FATAL_FAILURE(dump(pid, img, false));
      EXPECT_FALSE(std::filesystem::exists(img + ".partial"));
    }
  }
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after a failed dump"));
}

TEST_P(RestoreFaults, NothingLeftRunningAndPidsFree) {
  const FaultCase& f = GetParam();
  pid_t pid = h.spawn(programCase("sturdy"));
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  CommandResult r;
  {
    ScopedFault on(f);
    r = h.runCkpt({"restore", h.imageDir(), "--detach"});
  }
  expectFailed(r);
  EXPECT_EQ(r.out, "") << "no pid may be printed on failure";
  // What is left of the tree was killed; as the subreaper we reap it.
  ASSERT_TRUE(h.reapAll(Seconds(10))) << "a failed restore left processes running";
  for (pid_t p : tree) EXPECT_FALSE(pidExists(p)) << "pid " << p << " is still taken";
  // And the image is as good as before.
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the tree restored after a failed restore"));
}

std::string faultName(const ::testing::TestParamInfo<FaultCase>& info) {
  std::string n = info.param.point + (info.param.crash ? "_crash" : "_error");
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(EveryPoint, DumpFaults, ::testing::ValuesIn(faultsOf("dump.")), faultName);
INSTANTIATE_TEST_SUITE_P(EveryPoint, RestoreFaults, ::testing::ValuesIn(faultsOf("restore.")),
                         faultName);

// A tree that one ckpt holds frozen cannot be dumped by another: the second
// is refused, naming the first, and neither the first dump nor the program
// suffers from it.
class ConcurrentDumps : public CkptTest {};

TEST_F(ConcurrentDumps, SecondDumpOfAFrozenTreeIsRefused) {
  pid_t pid = h.spawn(programCase("sturdy"));
  auto tree = Harness::treePids(pid);
  RunningCommand first;
  {
    ScopedFault stop("dump.freeze:stop");
    first = h.startCkpt({"dump", std::to_string(pid), "-o", h.imageDir("first")});
  }
  ASSERT_TRUE(waitUntil([&] { return processState(first.pid) == 'T'; }))
      << "the first dump never reached its freeze";
  for (pid_t target : tree) {
    auto second = h.runCkpt({"dump", std::to_string(target), "-o", h.imageDir("second")});
    EXPECT_NE(second.status.code, 0) << second.describe();
    EXPECT_NE(second.err.find("already traced by pid " + std::to_string(first.pid) + " (ckpt"),
              std::string::npos)
        << "the message must name the other ckpt\n"
        << second.describe();
    EXPECT_FALSE(std::filesystem::exists(h.imageDir("second")));
    EXPECT_FALSE(std::filesystem::exists(h.imageDir("second") + ".partial"));
  }
  kill(first.pid, SIGCONT);
  auto r = h.finish(first);
  EXPECT_TRUE(r.status.ok()) << r.describe();
  EXPECT_TRUE(std::filesystem::is_directory(h.imageDir("first")));
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(tree));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after two dumps at once"));
}

// lazy.* points are reached only by restore --lazy; test_lazy.cpp runs them.
TEST(FaultPoints, EveryPointIsADumpRestoreOrLazyPoint) {
  EXPECT_EQ(faultsOf("dump.").size() + faultsOf("restore.").size() + faultsOf("lazy.").size(),
            2 * fault::kPoints.size());
}

}  // namespace
}  // namespace ckpt::test
