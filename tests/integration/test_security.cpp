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

// The image of a program that runs as nobody but keeps root as its saved
// set-user-ID (a setuid-root program that dropped privilege for a while):
// nobody restoring it would get a process that can become root again, or,
// as restore keeps the caller's credentials, silently lose that. Refused,
// before anything starts; nobody's own image restores.
TEST_F(Security, NonRootCannotRestoreASetuidImage) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to run a process of another user";
  const std::string dir = openDir();
  const std::string img = dir + "/suid";
  pid_t pid = h.spawn({systemProgram("python3"), "-c",
                       "import os, signal\n"
                       "os.setgroups([]); os.setresgid(65534, 65534, 65534)\n"
                       "os.setresuid(65534, 65534, 0)\n"
                       "signal.pause()\n"},
                      Ready::Exec);
  ASSERT_TRUE(waitUntil([&] {
    return readFile("/proc/" + std::to_string(pid) + "/status")
               .find("Uid:\t65534\t65534\t0\t65534\n") != std::string::npos;
  })) << "the program never dropped to nobody with a saved uid of root";
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, img, true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  // Handed to nobody, who can now read it.
  for (const auto& e : std::filesystem::recursive_directory_iterator(img))
    ASSERT_EQ(chown(e.path().c_str(), 65534, 65534), 0);
  ASSERT_EQ(chown(img.c_str(), 65534, 65534), 0);
  for (const auto& args : std::vector<std::vector<std::string>>{
           {ckptBinary(), "restore", img, "--detach"}, {ckptBinary(), "check", "--image", img}}) {
    auto r = h.run(asNobody(args));
    EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
    EXPECT_NE(r.err.find("the image holds pid " + std::to_string(pid) +
                         " whose saved uid is 0 (uids 65534/65534/0/65534), and you are uid "
                         "65534: only root can restore processes of another user or of a setuid "
                         "program"),
              std::string::npos)
        << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
  }
  EXPECT_TRUE(h.reapAll(Seconds(5)));
  EXPECT_FALSE(pidExists(pid)) << "a refused restore started pid " << pid;
}

// nobody dumps and restores its own program. Restoring the same pids needs
// CAP_CHECKPOINT_RESTORE: given to nobody's ckpt alone (ambient), never to
// the restored program, whose capabilities are the image's (none).
TEST_F(Security, NonRootRestoresItsOwnImage) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  const std::string dir = openDir();
  const std::string img = dir + "/own";
  pid_t pid = h.spawn(asNobody({programPath("sturdy")}));
  auto tree = Harness::treePids(pid);
  auto r = h.run(asNobody({ckptBinary(), "dump", std::to_string(pid), "-o", img, "--kill"}));
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  // Its stdout and stderr, opened by the harness as root: restore reopens
  // them as nobody.
  ASSERT_EQ(chmod(h.logPath().c_str(), 0666), 0);
  r = h.run({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             "--inh-caps=+checkpoint_restore", "--ambient-caps=+checkpoint_restore", ckptBinary(),
             "restore", img, "--detach"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  const std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  EXPECT_NE(status.find("Uid:\t65534\t65534\t65534\t65534\n"), std::string::npos) << status;
  for (const char* set : {"CapInh:\t0000000000000000", "CapPrm:\t0000000000000000",
                          "CapEff:\t0000000000000000", "CapAmb:\t0000000000000000"})
    EXPECT_NE(status.find(set), std::string::npos) << "the restored program kept ckpt's "
                                                      "capability\n"
                                                   << status;
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "nobody's program restored by nobody"));
}

}  // namespace
}  // namespace ckpt::test
