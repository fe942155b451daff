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
