// `ckpt inspect`: what an image holds, for people and for scripts, and a
// clear refusal of an image that was changed after the dump.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class Inspect : public CkptTest {};

TEST_F(Inspect, ShowsTreeMemoryFilesAndSharedObjects) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("shm")});
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  auto r = h.runCkpt({"inspect", h.imageDir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  const std::string p = std::to_string(pid);
  EXPECT_NE(r.out.find("root pid " + p + ": 2 processes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(p + " shm (1 thread)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("checksums verified"), std::string::npos) << r.out;
  for (const char* kind : {"shared_anon", "sysv", "memfd", "deleted_file"})
    EXPECT_NE(r.out.find(kind), std::string::npos) << "no " << kind << " object in\n" << r.out;

  auto j = h.runCkpt({"inspect", "--json", h.imageDir()});
  ASSERT_TRUE(j.status.ok()) << j.describe();
  auto doc = nlohmann::json::parse(j.out);
  ASSERT_TRUE(doc["processes"].is_array());
  ASSERT_EQ(doc["processes"].size(), 2u);
  EXPECT_EQ(doc["processes"][0]["pid"], pid);
  EXPECT_EQ(doc["totals"]["processes"], 2);
  EXPECT_FALSE(doc["processes"][0]["zombie"].get<bool>());
}

TEST_F(Inspect, RefusesAnImageChangedAfterTheDump) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("mem_anon")});
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  const std::string pages = h.imageDir() + "/pages-" + std::to_string(pid) + ".img";
  {
    std::fstream f(pages, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f) << pages;
    f.seekg(100);
    char c = 0;
    f.get(c);
    f.seekp(100);
    f.put(char(c ^ 0x40));
  }
  auto r = h.runCkpt({"inspect", h.imageDir()});
  EXPECT_NE(r.status.code, 0) << r.describe();
  EXPECT_NE(r.err.find("pages-" + std::to_string(pid) + ".img"), std::string::npos)
      << "the error must name the corrupt file\n"
      << r.describe();
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.describe();
  // And restore refuses it before starting anything.
  auto rr = h.runCkpt({"restore", h.imageDir(), "--detach"});
  EXPECT_NE(rr.status.code, 0) << rr.describe();
  EXPECT_EQ(rr.out, "") << "nothing may be started from a corrupt image";
  EXPECT_FALSE(pidExists(pid)) << "a process came back from a corrupt image";
}

}  // namespace
}  // namespace ckpt::test

namespace ckpt::test {
namespace {

// `ckpt ls`, and the --json summaries of dump and restore --detach.
TEST_F(Inspect, LsListsImagesAndJsonSummariesDescribeDumpAndRestore) {
  std::string folder = h.dir() + "/images";
  std::filesystem::create_directory(folder);
  pid_t pid = h.spawn(std::vector<std::string>{programPath("mem_anon")});
  auto tree = Harness::treePids(pid);
  auto d = h.runCkpt({"dump", std::to_string(pid), "-o", folder + "/one", "--json", "--kill"});
  ASSERT_TRUE(d.status.ok()) << d.describe();
  auto dj = nlohmann::json::parse(d.out);
  EXPECT_EQ(dj["root"], pid);
  EXPECT_EQ(dj["processes"], 1);
  EXPECT_TRUE(dj["killed"].get<bool>());
  EXPECT_GT(dj["bytes_stored"].get<uint64_t>(), 0u);
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  // A broken image and a folder that is no image.
  std::filesystem::copy(folder + "/one", folder + "/broken");
  std::ofstream(folder + "/broken/manifest.json") << "{";
  std::filesystem::create_directory(folder + "/not-an-image");

  auto l = h.runCkpt({"ls", folder, "--json"});
  ASSERT_TRUE(l.status.ok()) << l.describe();
  auto lj = nlohmann::json::parse(l.out);
  ASSERT_EQ(lj.size(), 2u) << l.out;
  for (const auto& e : lj) {
    if (e["path"] == folder + "/one") {
      EXPECT_TRUE(e["ok"].get<bool>());
      EXPECT_EQ(e["root_pid"], pid);
      EXPECT_EQ(e["command"], "mem_anon");
      EXPECT_EQ(e["kind"], "process");
      EXPECT_FALSE(e["thumbnail"].get<bool>());
    } else {
      EXPECT_EQ(e["path"], folder + "/broken");
      EXPECT_FALSE(e["ok"].get<bool>());
      EXPECT_NE(e["error"].get<std::string>().find("manifest.json"), std::string::npos);
    }
  }
  auto text = h.runCkpt({"ls", folder});
  EXPECT_NE(text.out.find("mem_anon"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("broken"), std::string::npos) << text.out;

  auto r = h.runCkpt({"restore", folder + "/one", "--detach", "--json"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  auto rj = nlohmann::json::parse(r.out);
  EXPECT_EQ(rj["root"], pid);
  EXPECT_EQ(rj["processes"], 1);
  EXPECT_TRUE(rj["hook_errors"].empty());
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "mem_anon"));
}

}  // namespace
}  // namespace ckpt::test
