// `ckpt dump --parent OLD`: an image that stores only the pages changed
// since OLD restores exactly through its parents; a parent that is gone or
// was replaced is named in the error; rolling dumps keep every image they
// keep restorable.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include "core/image/Checksum.hpp"

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

// Makes `dir` look like an image from before page hashes (format 1 had
// none): a child dumped on top of it must read the pages themselves.
void stripPageHashes(const std::string& dir) {
  auto j = nlohmann::json::parse(readFile(dir + "/manifest.json"));
  for (auto& p : j["processes"]) {
    if (!p["page_hashes_file"].get<std::string>().empty())
      fs::remove(dir + "/" + p["page_hashes_file"].get<std::string>());
    p["page_hashes_file"] = "";
    p["page_hashes_xxh3"] = 0;
  }
  const std::string text = j.dump(1);
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << text;
  std::ofstream(dir + "/manifest.xxh3", std::ios::trunc)
      << image::xxh3Hex(image::xxh3(text.data(), text.size())) << " " << text.size() << "\n";
}

uint64_t pageBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("pages-", 0) == 0) n += e.file_size();
  return n;
}

class Incremental : public CkptTest {
 protected:
  // Tells mem_changes to rewrite its 1% of pages and waits until it has.
  void change(pid_t pid, int generation) {
    ASSERT_EQ(kill(pid, SIGUSR2), 0);
    const std::string want = "changed " + std::to_string(generation) + "\n";
    ASSERT_TRUE(waitForFile(h.logPath(),
                            [&] { return readFile(h.logPath()).find(want) != std::string::npos; }))
        << "mem_changes never reported generation " << generation;
  }
  void dumpWithParent(pid_t pid, const std::string& dir, const std::string& parent, bool kill) {
    dumpArgs = {"--parent", parent};
    dump(pid, dir, kill);
    dumpArgs.clear();
  }
  pid_t spawnChanging() { return h.spawn({programPath("mem_changes"), "32"}); }
  // A full image "full", one page in a hundred changed, then "incr" on top
  // of it with --kill; returns the dumped pid, gone by then.
  void fullThenIncremental(pid_t* pid) {
    *pid = spawnChanging();
    auto tree = Harness::treePids(*pid);
    ASSERT_NO_FATAL_FAILURE(dump(*pid, h.imageDir("full"), false));
    ASSERT_NO_FATAL_FAILURE(change(*pid, 1));
    ASSERT_NO_FATAL_FAILURE(dumpWithParent(*pid, h.imageDir("incr"), h.imageDir("full"), true));
    ASSERT_NO_FATAL_FAILURE(expectGone(*pid, tree));
  }
};

TEST_F(Incremental, StoresOnlyChangedPagesAndRestoresExactly) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(fullThenIncremental(&pid));
  const uint64_t full = pageBytes(h.imageDir("full")), incr = pageBytes(h.imageDir("incr"));
  // 1% of 32 MiB changed, plus the program's own few pages (stack, data).
  EXPECT_GE(full, 32u << 20);
  EXPECT_LT(incr * 20, full) << "the incremental image stores " << incr << " bytes of pages, the "
                             << "full one " << full;
  auto js = h.runCkpt({"inspect", h.imageDir("incr"), "--json"});
  ASSERT_TRUE(js.status.ok()) << js.describe();
  auto j = nlohmann::json::parse(js.out);
  ASSERT_EQ(j["parents"].size(), 1u) << js.out;
  EXPECT_EQ(j["parents"][0]["path"], fs::canonical(h.imageDir("full")).string());
  EXPECT_GT(j["pages_in_parents_bytes"].get<uint64_t>(), 30u << 20);
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir("incr"), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program from the incremental image"));
}

// full (compressed, without page hashes) <- second <- third (compressed),
// restored from the third: pages come from all three images, plain and
// compressed.
TEST_F(Incremental, ChainOfThree) {
  pid_t pid = spawnChanging();
  auto tree = Harness::treePids(pid);
  dumpArgs = {"--compress", "zstd"};
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir("1"), false));
  dumpArgs.clear();
  ASSERT_NO_FATAL_FAILURE(stripPageHashes(h.imageDir("1")));
  ASSERT_NO_FATAL_FAILURE(change(pid, 1));
  ASSERT_NO_FATAL_FAILURE(dumpWithParent(pid, h.imageDir("2"), h.imageDir("1"), false));
  ASSERT_NO_FATAL_FAILURE(change(pid, 2));
  dumpArgs = {"--parent", h.imageDir("2"), "--compress", "zstd"};
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir("3"), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  auto text = h.runCkpt({"inspect", h.imageDir("3")});
  ASSERT_TRUE(text.status.ok()) << text.describe();
  EXPECT_NE(text.out.find("parent " + fs::canonical(h.imageDir("2")).string()), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("then " + fs::canonical(h.imageDir("1")).string()), std::string::npos)
      << text.out;
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir("3"), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program from the third image"));
}

TEST_F(Incremental, MissingOrReplacedParentIsNamed) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(fullThenIncremental(&pid));
  const std::string parent = fs::canonical(h.imageDir("full")).string();

  fs::rename(h.imageDir("full"), h.imageDir("moved"));
  auto r = h.runCkpt({"restore", h.imageDir("incr"), "--detach"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("needs parent " + parent + ", which is missing"), std::string::npos)
      << r.describe();
  EXPECT_FALSE(pidExists(pid));

  // Another image under the parent's name is not the parent.
  pid_t other = h.spawn(programCase("mem_anon"));
  ASSERT_NO_FATAL_FAILURE(dump(other, h.imageDir("full"), false));
  r = h.runCkpt({"restore", h.imageDir("incr"), "--detach"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("needs parent " + parent + ", which has changed since"), std::string::npos)
      << r.describe();
  EXPECT_FALSE(pidExists(pid));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(other, "the other program"));

  // Back in place, it restores.
  fs::remove_all(h.imageDir("full"));
  fs::rename(h.imageDir("moved"), h.imageDir("full"));
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir("incr"), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program"));
}

// --every with --keep 3: images are incremental, rotation removes only
// images no kept one needs, and every image left restores.
TEST_F(Incremental, RollingKeepsEveryKeptImageRestorable) {
  pid_t pid = spawnChanging();
  auto tree = Harness::treePids(pid);
  const std::string folder = h.dir() + "/rolling";
  RunningCommand cmd = h.startCkpt(
      {"dump", std::to_string(pid), "-o", folder, "--every", "100ms", "--keep", "3", "--json"});
  auto lines = readLines(cmd.outFd, 7);
  ASSERT_EQ(lines.size(), 7u) << "fewer than 7 checkpoints were reported";
  kill(cmd.pid, SIGTERM);
  auto r = h.finish(cmd);
  ASSERT_TRUE(r.status.ok()) << r.describe();
  int incremental = 0;
  for (const auto& l : lines)
    if (nlohmann::json::parse(l)["parent_pages"].get<uint64_t>() > 0) ++incremental;
  // Of every 3 images, the first is full and the next two incremental.
  EXPECT_GE(incremental, 4) << "too few incremental images among:\n" << r.out;

  std::vector<std::string> images;
  for (const auto& e : fs::directory_iterator(folder)) images.push_back(e.path().string());
  std::sort(images.begin(), images.end());
  EXPECT_GE(images.size(), 3u);
  EXPECT_LE(images.size(), 5u) << "--keep 3 may leave at most 2 parents of kept images";
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  for (const auto& img : images) {
    SCOPED_TRACE(img);
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(img, pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program from " + img));
    ASSERT_TRUE(h.reapAll());
  }
}

}  // namespace
}  // namespace ckpt::test
