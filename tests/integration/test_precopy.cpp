// Pre-copy (core/dump/PreCopy.hpp): memory is copied while the program
// runs, and only what it wrote since is copied frozen. The image must still
// be one instant while threads write, mappings come and go, and pages are
// huge; a ckpt killed in the middle must leave the program as it was; and
// without pre-copy, a memory snapshot left by a killed ckpt is reaped by the
// next dump instead of being saved.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "core/proc/ProcParsers.hpp"

namespace ckpt::test {
namespace {

// CKPT_FAULT for the ckpt runs of one scope (they inherit the environment).
class ScopedFault {
 public:
  explicit ScopedFault(const std::string& spec) { setenv("CKPT_FAULT", spec.c_str(), 1); }
  ~ScopedFault() { unsetenv("CKPT_FAULT"); }
};

class PreCopy : public CkptTest {
 protected:
  // `ckpt dump --json`: its summary.
  nlohmann::json dumpJson(pid_t pid, const std::string& dir, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"dump", std::to_string(pid), "-o", dir, "--json"};
    args.insert(args.end(), more.begin(), more.end());
    auto r = h.runCkpt(args);
    EXPECT_TRUE(r.status.ok()) << r.describe();
    if (!r.status.ok()) return {};
    return nlohmann::json::parse(r.out);
  }

  // After a leave-running dump into h.imageDir(): no tracking is left, the
  // original passes its checks, and so does the tree restored from the image.
  void checkOriginalThenRestored(pid_t pid) {
    ASSERT_NO_FATAL_FAILURE(expectNoTracking(pid));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
    ASSERT_TRUE(h.reapAll());
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
  }

  // Nothing of ckpt's write tracking is left in the process: no userfaultfd
  // among its fds, no mapping registered with one.
  void expectNoTracking(pid_t pid) {
    const std::string dir = "/proc/" + std::to_string(pid);
    for (const auto& fd : std::filesystem::directory_iterator(dir + "/fd")) {
      std::error_code ec;
      auto target = std::filesystem::read_symlink(fd.path(), ec);
      EXPECT_EQ(target.string().find("userfaultfd"), std::string::npos)
          << "pid " << pid << " holds a userfaultfd at " << fd.path();
    }
    std::string smaps = readFile(dir + "/smaps");
    for (size_t at = smaps.find("VmFlags:"); at != std::string::npos;
         at = smaps.find("VmFlags:", at + 1)) {
      std::string flags = smaps.substr(at, smaps.find('\n', at) - at);
      EXPECT_EQ((flags + " ").find(" uw "), std::string::npos)
          << "pid " << pid << " still has a write-tracked mapping: " << flags;
    }
  }
};

TEST_F(PreCopy, ThreadsWritingAllTheTime) {
  pid_t pid = h.spawn({programPath("mem_live"), "64"});
  auto j = dumpJson(pid, h.imageDir());
  ASSERT_FALSE(j.is_null());
  EXPECT_GE(j["precopy_rounds"].get<int>(), 1) << j.dump();
  ASSERT_NO_FATAL_FAILURE(checkOriginalThenRestored(pid));
}

TEST_F(PreCopy, ASecondDumpFindsEveryPage) {
  // What the first dump's tracking leaves (write-protect bits would read as
  // "not written since") must not hide pages from the next one.
  pid_t pid = h.spawn({programPath("mem_live"), "64"});
  for (int i = 0; i < 2; ++i) {
    auto j = dumpJson(pid, h.imageDir(std::to_string(i)));
    ASSERT_FALSE(j.is_null());
    ASSERT_NO_FATAL_FAILURE(expectNoTracking(pid));
  }
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after two dumps"));
  ASSERT_TRUE(h.reapAll());
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir("1"), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the tree restored from the second dump"));
}

TEST_F(PreCopy, ThreadsWritingAllTheTimeKill) {
  pid_t pid = h.spawn({programPath("mem_live"), "64"});
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

TEST_F(PreCopy, HugePages) {
  pid_t pid = h.spawn({programPath("mem_live"), "32", "thp"});
  ASSERT_NO_FATAL_FAILURE(leaveRunningRestoreAndCheck(pid, h.imageDir()));
}

// With pre-copy the image still says which mappings had transparent huge
// pages (read before the tracking split them), so restore asks for them.
TEST_F(PreCopy, HugePagesAreRecorded) {
  pid_t pid = h.spawn({programPath("mem_live"), "32", "thp"});
  uint64_t hugeKb = 0;
  for (const auto& [start, kb] :
       proc::parseSmapsAnonHugePages(readFile("/proc/" + std::to_string(pid) + "/smaps")))
    hugeKb += kb;
  if (hugeKb == 0) GTEST_SKIP() << "the kernel gave mem_live no huge pages";
  auto j = dumpJson(pid, h.imageDir());
  ASSERT_FALSE(j.is_null());
  EXPECT_GE(j["precopy_rounds"].get<int>(), 1) << j.dump();
  auto m = nlohmann::json::parse(readFile(h.imageDir() + "/manifest.json"));
  int huge = 0;
  for (const auto& p : m["processes"])
    for (const auto& v : p["vmas"]) huge += v.value("anon_huge", false) ? 1 : 0;
  EXPECT_GT(huge, 0) << "no mapping recorded as holding huge pages";
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
}

TEST_F(PreCopy, HugePagesKill) {
  pid_t pid = h.spawn({programPath("mem_live"), "32", "thp"});
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

TEST_F(PreCopy, MappingsChangingAllTheTime) {
  // Several dumps of one program: each catches the mappings at another moment.
  pid_t pid = h.spawn(std::vector<std::string>{programPath("mem_maps_live")});
  for (int i = 0; i < 3; ++i)
    ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(std::to_string(i)), false));
  ASSERT_NO_FATAL_FAILURE(expectNoTracking(pid));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dumps"));
  ASSERT_TRUE(h.reapAll());
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("image " + std::to_string(i));
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(std::to_string(i)), pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
    ASSERT_TRUE(h.reapAll());
  }
}

TEST_F(PreCopy, MappingsChangingAllTheTimeKill) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("mem_maps_live")});
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

// mem_maps_live is small: by default it is copied frozen. Tracked all the
// same, the image is still the freeze instant.
TEST_F(PreCopy, MappingsChangingAllTheTimeTracked) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("mem_maps_live")});
  auto j = dumpJson(pid, h.imageDir(), {"--pre-copy-min", "0"});
  ASSERT_FALSE(j.is_null());
  EXPECT_GE(j["precopy_rounds"].get<int>(), 1) << j.dump();
  ASSERT_NO_FATAL_FAILURE(checkOriginalThenRestored(pid));
}

// A process with little memory is not tracked: the tree is not stopped
// before the freeze, and its pages, written all the time by its threads,
// are copied frozen: the image is the freeze instant.
TEST_F(PreCopy, SmallProcessesAreCopiedFrozen) {
  pid_t pid = h.spawn({programPath("mem_live"), "2"});
  auto j = dumpJson(pid, h.imageDir());
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["precopy_rounds"].get<int>(), 0) << j.dump();
  EXPECT_GE(j["bytes_copied_frozen"].get<uint64_t>(), 2u << 20) << j.dump();
  ASSERT_NO_FATAL_FAILURE(checkOriginalThenRestored(pid));
}

// The same program above the threshold is pre-copied.
TEST_F(PreCopy, ThresholdDecidesWhatIsTracked) {
  pid_t pid = h.spawn({programPath("mem_live"), "2"});
  auto j = dumpJson(pid, h.imageDir(), {"--pre-copy-min", "1"});
  ASSERT_FALSE(j.is_null());
  EXPECT_GE(j["precopy_rounds"].get<int>(), 1) << j.dump();
  ASSERT_NO_FATAL_FAILURE(expectNoTracking(pid));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
}

TEST_F(PreCopy, WithoutPreCopyTheSameImage) {
  dumpArgs = {"--no-pre-copy"};
  pid_t pid = h.spawn({programPath("mem_live"), "16"});
  auto j = dumpJson(pid, h.imageDir(), {"--no-pre-copy"});
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["precopy_rounds"].get<int>(), 0) << j.dump();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
  ASSERT_TRUE(h.reapAll());
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
}

// ckpt killed while every page is write-protected for it: the kernel drops
// the protection with ckpt's last reference, and the program goes on.
TEST_F(PreCopy, KilledMidPreCopyLeavesTheProgramIntact) {
  for (const char* point : {"dump.precopy-track", "dump.precopy", "dump.precopy-frozen"}) {
    SCOPED_TRACE(point);
    pid_t pid = h.spawn({programPath("mem_live"), "32"});
    auto tree = Harness::treePids(pid);
    CommandResult r;
    {
      ScopedFault crash(std::string(point) + ":crash");
      r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir(point)});
    }
    EXPECT_EQ(r.status.kind, ExitStatus::Signaled) << r.describe();
    ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(tree));
    ASSERT_NO_FATAL_FAILURE(expectNoTracking(pid));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after ckpt was killed"));
    ASSERT_TRUE(h.reapAll());
  }
}

// Without pre-copy a leave-running dump takes a copy-on-write snapshot
// child. A ckpt killed while it holds one leaves it a zombie of the program;
// the next dump reaps it and does not save it.
TEST_F(PreCopy, LeftoverSnapshotIsReapedNotSaved) {
  pid_t pid = h.spawn({programPath("mem_live"), "16"});
  CommandResult r;
  {
    ScopedFault crash("dump.snapshot:crash");
    r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir("dead"), "--no-pre-copy"});
  }
  ASSERT_EQ(r.status.kind, ExitStatus::Signaled) << r.describe();
  auto kids = [&] {
    std::vector<pid_t> out = Harness::treePids(pid);
    std::erase(out, pid);
    return out;
  };
  ASSERT_EQ(kids().size(), 1u) << "the killed ckpt left no snapshot to test with";
  auto j = dumpJson(pid, h.imageDir());
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["processes"].get<int>(), 1) << "the leftover snapshot was saved: " << j.dump();
  EXPECT_TRUE(kids().empty()) << "the leftover snapshot was not reaped";
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dumps"));
  ASSERT_TRUE(h.reapAll());
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
}

}  // namespace
}  // namespace ckpt::test
