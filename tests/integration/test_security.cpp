// What an image and a dump give away: images are private to their owner, and
// a user who is not root can dump only its own processes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

constexpr const char* kNobody = "65534";

std::vector<std::string> asNobody(std::vector<std::string> argv) {
  argv.insert(argv.begin(), {"/usr/bin/setpriv", std::string("--reuid=") + kNobody,
                             std::string("--regid=") + kNobody, "--clear-groups"});
  return argv;
}

class Security : public CkptTest {
 protected:
  // A directory the unprivileged user may create images in.
  std::string openDir() {
    std::string d = h.dir() + "/shared";
    std::filesystem::create_directory(d);
    chmod(h.dir().c_str(), 0755);
    chmod(d.c_str(), 01777);
    return d;
  }
};

// An image holds the program's memory: the directory is 0700, every file in
// it 0600, whatever the umask.
TEST_F(Security, ImagesAreOwnerOnly) {
  pid_t pid = h.spawn(programCase("sturdy"));
  mode_t old = umask(0);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), false));
  umask(old);
  struct stat st {};
  ASSERT_EQ(stat(h.imageDir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(h.imageDir())) {
    ASSERT_EQ(stat(f.path().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u) << f.path();
    ++files;
  }
  EXPECT_GT(files, 2);
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program"));
}

TEST_F(Security, NonRootCannotDumpAnotherUsersProcess) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process of another user";
  pid_t pid = h.spawn(programCase("sturdy"));
  const std::string img = openDir() + "/img";
  auto r = h.run(asNobody({ckptBinary(), "dump", std::to_string(pid), "-o", img}));
  EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
  EXPECT_NE(r.status.code, 0) << r.describe();
  EXPECT_NE(r.err.find(std::to_string(pid)), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("not permitted"), std::string::npos) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(img));
  EXPECT_FALSE(std::filesystem::exists(img + ".partial"));
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(Harness::treePids(pid)));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "root's program after nobody tried to dump it"));
}

TEST_F(Security, NonRootDumpsItsOwnProcess) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  const std::string dir = openDir();
  pid_t pid = h.spawn(asNobody({programPath("sturdy")}));
  auto r = h.run(asNobody({ckptBinary(), "dump", std::to_string(pid), "-o", dir + "/img"}));
  EXPECT_TRUE(r.status.ok()) << r.describe();
  struct stat st {};
  ASSERT_EQ(stat((dir + "/img").c_str(), &st), 0) << r.describe();
  EXPECT_EQ(st.st_uid, 65534u) << "the image belongs to who dumped it";
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(Harness::treePids(pid)));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "nobody's program after its dump"));
}

}  // namespace
}  // namespace ckpt::test
