// `ckpt dump --every T --keep N`: rolling checkpoints of a running tree.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

class Rolling : public CkptTest {};

TEST_F(Rolling, KeepsTheNewestImagesEachOfWhichRestores) {
  pid_t pid = h.spawn(programCase("mem_anon"));
  std::string folder = h.dir() + "/rolling";
  RunningCommand cmd = h.startCkpt(
      {"dump", std::to_string(pid), "-o", folder, "--every", "200ms", "--keep", "2", "--json"});
  auto lines = readLines(cmd.outFd, 4);
  ASSERT_EQ(lines.size(), 4u) << "fewer than 4 checkpoints were reported";
  kill(cmd.pid, SIGTERM);
  auto r = h.finish(cmd);
  EXPECT_TRUE(r.status.ok()) << r.describe();
  std::vector<std::string> reported;
  for (const auto& l : lines) reported.push_back(nlohmann::json::parse(l)["image"]);
  std::vector<std::string> kept;
  for (const auto& e : fs::directory_iterator(folder)) kept.push_back(e.path().string());
  std::sort(kept.begin(), kept.end());
  // The newest two, and the parent the older of them may still read pages
  // from (images are incremental on the one before, every 2nd one full).
  ASSERT_GE(kept.size(), 2u) << "--keep 2 left " << kept.size() << " images";
  ASSERT_LE(kept.size(), 3u) << "--keep 2 left " << kept.size() << " images";
  // The newest two reported images are older than the newest two kept (more
  // may have been made after the 4th report, before SIGTERM arrived).
  const std::string& olderKept = kept[kept.size() - 2];
  EXPECT_LT(reported[0], olderKept);
  EXPECT_LT(reported[1], olderKept);
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after rolling dumps"));
  ASSERT_TRUE(h.reapAll());
  pid_t restored = -1;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(kept.back(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program from the newest image"));
}

TEST_F(Rolling, StopsWhenTheTreeEnds) {
  pid_t pid = h.spawn(programCase("mem_anon"));
  std::string folder = h.dir() + "/rolling";
  RunningCommand cmd =
      h.startCkpt({"dump", std::to_string(pid), "-o", folder, "--every", "1h", "--json"});
  ASSERT_EQ(readLines(cmd.outFd, 1).size(), 1u);
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program"));
  auto r = h.finish(cmd);
  EXPECT_TRUE(r.status.ok()) << r.describe();
  auto bad = h.runCkpt({"dump", "1", "-o", folder, "--every", "soon"});
  EXPECT_TRUE(bad.status.exitedWith(1)) << bad.describe();
  EXPECT_NE(bad.err.find("no duration"), std::string::npos) << bad.describe();
}

}  // namespace
}  // namespace ckpt::test
