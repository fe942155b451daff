// The disk fills up during a dump, or the image directory cannot be
// written: a clean error naming the file, no image, the program unharmed.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

// A 4 MiB tmpfs, unmounted at the end.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string& path) : path_(path) {
    fs::create_directories(path);
    ok_ = mount("ckpt-test", path.c_str(), "tmpfs", 0, "size=4m,mode=0755") == 0;
  }
  ~SmallDisk() {
    if (ok_) umount2(path_.c_str(), MNT_DETACH);
  }
  bool ok() const { return ok_; }

 private:
  std::string path_;
  bool ok_ = false;
};

class DiskFull : public CkptTest {};

TEST_F(DiskFull, DumpFailsCleanlyAndTheProgramRunsOn) {
  if (geteuid() != 0) GTEST_SKIP() << "mounting a tmpfs needs root";
  SmallDisk disk(h.dir() + "/small");
  ASSERT_TRUE(disk.ok()) << "mount tmpfs: " << strerror(errno);
  // mem_big holds far more than 4 MiB of non-zero pages.
  pid_t pid = h.spawn(programCase("mem_big"));
  auto tree = Harness::treePids(pid);
  std::string img = h.dir() + "/small/img";
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", img});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find(h.dir() + "/small/img"), std::string::npos)
      << "the error must name where it was writing\n"
      << r.describe();
  EXPECT_FALSE(fs::exists(img));
  EXPECT_FALSE(fs::exists(img + ".partial")) << "a failed dump left its partial image";
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(tree));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after a dump hit a full disk"));
}

TEST_F(DiskFull, UnwritableImageFolderIsAClearError) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run as nobody";
  std::string folder = h.dir() + "/readonly";
  fs::create_directory(folder);
  chmod(h.dir().c_str(), 0755);
  chmod(folder.c_str(), 0555);
  pid_t pid = h.spawn(std::vector<std::string>{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
                                               "--clear-groups", programPath("mem_anon")});
  auto r = h.run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                  ckptBinary(), "dump", std::to_string(pid), "-o", folder + "/img"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find(folder + "/img"), std::string::npos) << r.describe();
  EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.describe();
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(Harness::treePids(pid)));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the refused dump"));
}

}  // namespace
}  // namespace ckpt::test
