// `ckpt dump --compress zstd[:LEVEL]`: programs dumped with compressed page
// files come back exactly (leaving them running and with --kill), inspect
// shows the codec and ratio, and a corrupt compressed page file is refused
// with one line naming it before anything is started.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

class Compressed : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {
 protected:
  void SetUp() override { dumpArgs = {"--compress", "zstd"}; }
};

TEST_P(Compressed, LeaveRunning) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(leaveRunningRestoreAndCheck(pid, h.imageDir()));
}

TEST_P(Compressed, Kill) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(Programs, Compressed,
                         ::testing::Values(programCase("mem_anon"), programCase("mem_big"),
                                           programCase("mem_live"), programCase("threads"),
                                           programCase("tree"), programCase("shm")),
                         [](const auto& info) { return caseName(info.param); });

class CompressedImage : public CkptTest {};

TEST_F(CompressedImage, InspectShowsTheCodecAndRatio) {
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  dumpArgs = {"--compress", "zstd:3"};
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), false));
  auto text = h.runCkpt({"inspect", h.imageDir()});
  ASSERT_TRUE(text.status.ok()) << text.describe();
  EXPECT_NE(text.out.find("compressed with zstd:3 to"), std::string::npos) << text.describe();
  auto js = h.runCkpt({"inspect", h.imageDir(), "--json"});
  ASSERT_TRUE(js.status.ok()) << js.describe();
  auto j = nlohmann::json::parse(js.out);
  EXPECT_EQ(j["compression"], "zstd:3");
  // Patterned pages hold 16 MiB of data; a page file as large as that would
  // mean nothing was compressed.
  EXPECT_GE(j["pages_bytes"].get<uint64_t>(), 16u << 20);
  EXPECT_LT(j["pages_stored_bytes"].get<uint64_t>(), j["pages_bytes"].get<uint64_t>());
  EXPECT_GT(j["compression_ratio"].get<double>(), 1.0);
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the dump"));
}

TEST_F(CompressedImage, BadLevelIsRefusedAndTheProgramRunsOn) {
  pid_t pid = h.spawn(programCase("mem_anon"));
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir(), "--compress", "zstd:99"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("is not a zstd level"), std::string::npos) << r.describe();
  EXPECT_FALSE(fs::exists(h.imageDir()));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program"));
}

// A flipped byte in a compressed page file: restore names the file and
// frame on one line, exits 1, and no process of the tree is left.
TEST_F(CompressedImage, CorruptFrameIsRefusedBeforeAnythingStarts) {
  pid_t pid = h.spawn({programPath("mem_changes"), "8"});
  auto tree = Harness::treePids(pid);
  dumpArgs = {"--compress", "zstd"};
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  const std::string pages = h.imageDir() + "/pages-" + std::to_string(pid) + ".img";
  const auto size = fs::file_size(pages);
  ASSERT_GT(size, 4096u);
  ASSERT_TRUE(flipByte(pages, size / 2)) << pages;
  auto r = h.runCkpt({"restore", h.imageDir(), "--detach"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("pages-" + std::to_string(pid) + ".img: frame at"), std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find("the image is corrupt"), std::string::npos) << r.describe();
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.describe();
  EXPECT_FALSE(pidExists(pid)) << "a refused restore left pid " << pid << " behind";
  auto inspect = h.runCkpt({"inspect", h.imageDir()});
  EXPECT_TRUE(inspect.status.exitedWith(1)) << inspect.describe();
  EXPECT_NE(inspect.err.find("the image is corrupt"), std::string::npos) << inspect.describe();
}

}  // namespace
}  // namespace ckpt::test
