// `ckpt migrate PID --to HOST`: over a private sshd on loopback (a second
// "host" that is this machine). The moved program passes its checks there
// and the source is gone; a far side that cannot take the image (no ckpt,
// another architecture or image format) leaves the source running,
// untouched, with a line that says why; so does a far side where a file the
// program maps is missing or different (restore's own checks, run there on
// the manifest before the source is killed); a far restore that fails brings
// the program back here, and if that fails too the image is kept and named.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

bool accepting(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

class Migrate : public CkptTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "a private sshd on loopback needs root";
    if (access("/usr/sbin/sshd", X_OK) != 0)
      GTEST_FAIL() << "/usr/sbin/sshd is missing: scripts/install-deps.sh installs openssh-server";
    const std::string d = h.dir() + "/ssh";
    std::filesystem::create_directories(d);
    mkdir("/run/sshd", 0755);  // sshd's privilege separation directory
    for (const char* key : {"host_key", "client_key"}) {
      auto r = h.run({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", d + "/" + key});
      ASSERT_TRUE(r.status.ok()) << r.describe();
    }
    std::filesystem::copy_file(d + "/client_key.pub", d + "/authorized_keys");
    port_ = freeLoopbackPort();
    std::ofstream(d + "/sshd_config") << "HostKey " << d << "/host_key\n"
                                      << "AuthorizedKeysFile " << d << "/authorized_keys\n"
                                      << "PidFile " << d << "/sshd.pid\n"
                                      << "ListenAddress 127.0.0.1\n"
                                      << "StrictModes no\nUsePAM no\n"
                                      << "PermitRootLogin prohibit-password\n"
                                      << "PasswordAuthentication no\n";
    sshd_ = h.start(
        {"/usr/sbin/sshd", "-D", "-e", "-f", d + "/sshd_config", "-p", std::to_string(port_)});
    ASSERT_TRUE(waitUntil([&] { return accepting(port_); })) << "sshd did not start listening";
    sshOptions_ = {"--ssh-option=-oStrictHostKeyChecking=no",
                   "--ssh-option=-oUserKnownHostsFile=/dev/null", "--ssh-option=-oLogLevel=ERROR",
                   "--ssh-option=-i" + d + "/client_key",
                   "--ssh-option=-p" + std::to_string(port_)};
  }

  std::vector<std::string> migrateArgs(pid_t pid, const std::string& remoteCkpt) {
    std::vector<std::string> a{"migrate",        std::to_string(pid), "--to",
                               "root@127.0.0.1", "--remote-ckpt",     remoteCkpt};
    a.insert(a.end(), sshOptions_.begin(), sshOptions_.end());
    return a;
  }

  // A far ckpt: `body` (sh) runs first with W the test's work directory and
  // C this ckpt; every command line it gets is logged to far.log.
  std::string farCkpt(const std::string& body) {
    const std::string path = h.dir() + "/far-ckpt";
    std::ofstream(path) << "#!/bin/sh\nW='" << h.workDir() << "'\nC='" << ckptBinary()
                        << "'\nexport W C\n"
                        << "echo \"$*\" >>'" << h.dir() << "/far.log'\n"
                        << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  }

  int port_ = -1;
  RunningCommand sshd_;
  std::vector<std::string> sshOptions_;
};

TEST_F(Migrate, MovesTheProgramAndKillsTheSource) {
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  auto args = migrateArgs(pid, ckptBinary());
  args.push_back("--json");
  RunningCommand cmd = h.startCkpt(args);
  // The source dies once its image is out; reaping it frees its pid for the
  // far side, which is this machine.
  auto st = h.waitExit(pid);
  ASSERT_EQ(st.kind, ExitStatus::Signaled) << "the source " << st.describe();
  auto r = h.finish(cmd);
  ASSERT_TRUE(r.status.ok()) << r.describe();
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.describe();
  EXPECT_EQ(j.value("host", ""), "root@127.0.0.1");
  EXPECT_TRUE(j.value("source_killed", false));
  ASSERT_EQ(j.value("root", -1), pid) << r.describe();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program moved over ssh"));
}

TEST_F(Migrate, NoCkptOnTheFarSideLeavesTheSourceUntouched) {
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  auto r = h.runCkpt(migrateArgs(pid, "/nonexistent/ckpt"));
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("ckpt: migrate: no ckpt on root@127.0.0.1 at /nonexistent/ckpt"),
            std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find("was not touched"), std::string::npos) << r.describe();
  ASSERT_TRUE(pidExists(pid));
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced({pid}));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the source after a refused migration"));
}

// The far ckpt passes the pre-flight but its restore fails after the source
// was killed: the program comes back here from the image that was sent.
TEST_F(Migrate, AFailedFarRestoreBringsTheProgramBackHere) {
  const std::string fake = h.dir() + "/far-ckpt";
  std::ofstream(fake)
      << "#!/bin/sh\n[ \"$1\" = check ] && exec " << ckptBinary()
      << " \"$@\"\ncat >/dev/null; echo 'restore refused for the test' >&2; exit 1\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  RunningCommand cmd = h.startCkpt(migrateArgs(pid, fake));
  auto st = h.waitExit(pid);
  ASSERT_EQ(st.kind, ExitStatus::Signaled) << "the source " << st.describe();
  auto r = h.finish(cmd);
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("the program was restored here again as pid " + std::to_string(pid)),
            std::string::npos)
      << r.describe();
  ASSERT_NO_FATAL_FAILURE(
      wakeAndExpectPass(pid, "the program restored here after the far side failed"));
}

// The far side does not see the file mem_file maps privately (its work
// directory hidden under a tmpfs), or sees it changed (a changed copy bound
// over it): a far ckpt in a mount namespace of its own is an honest "other
// machine" for files. Its pre-flight check, on the manifest, refuses before
// the source is killed, naming the file; nothing is sent to restore.
TEST_F(Migrate, AFileMissingOrChangedOnTheFarSideStopsItBeforeTheSourceIsKilled) {
  struct Case {
    std::string name, mount, says;
  };
  for (const Case& c : std::vector<Case>{
           {"missing", "mount -t tmpfs far \"$W\"", "cannot be read here"},
           {"changed",
            "cp \"$W/mem_file.private\" /tmp/far-copy.$$ && printf X | dd "
            "of=/tmp/far-copy.$$ bs=1 seek=100 conv=notrunc 2>/dev/null && mount --bind "
            "/tmp/far-copy.$$ \"$W/mem_file.private\" && rm /tmp/far-copy.$$",
            "changed since the dump: its content changed"}}) {
    SCOPED_TRACE(c.name);
    std::filesystem::remove(h.dir() + "/far.log");
    const std::string fake =
        farCkpt("exec unshare --mount --propagation private sh -c '" + c.mount +
                " && exec \"$0\" \"$@\"' "
                "\"$C\" \"$@\"");
    pid_t pid = h.spawn(programCase("mem_file"));
    auto r = h.runCkpt(migrateArgs(pid, fake));
    EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
    EXPECT_NE(r.err.find("ckpt: migrate: root@127.0.0.1 cannot restore this image: pid " +
                         std::to_string(pid) + ": mapped file " + h.workDir() +
                         "/mem_file.private " + c.says),
              std::string::npos)
        << r.describe();
    EXPECT_NE(r.err.find("; pid " + std::to_string(pid) + " runs on here"), std::string::npos)
        << r.describe();
    const std::string log = readFile(h.dir() + "/far.log");
    EXPECT_NE(log.find("check --image - --json"), std::string::npos) << log;
    EXPECT_EQ(log.find("restore"), std::string::npos) << "the far side was asked to restore\n"
                                                      << log;
    ASSERT_TRUE(pidExists(pid));
    ASSERT_NO_FATAL_FAILURE(expectRunningUntraced({pid}));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the source after a refused migration"));
  }
}

// A far ckpt from before `check --image` (a usage error, exit 2): the
// migration goes on, with a warning that the files are checked only by the
// far restore.
TEST_F(Migrate, AnOlderFarCkptWithoutImageChecksStillTakesTheProgram) {
  const std::string fake = farCkpt(
      "[ \"$1\" = check ] && [ \"$2\" = --image ] && { echo 'unknown option --image' "
      ">&2; exit 2; }\nexec \"$C\" \"$@\"");
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  RunningCommand cmd = h.startCkpt(migrateArgs(pid, fake));
  auto st = h.waitExit(pid);
  ASSERT_EQ(st.kind, ExitStatus::Signaled) << "the source " << st.describe();
  auto r = h.finish(cmd);
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_NE(r.err.find("cannot check an image ahead"), std::string::npos) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program moved to an older ckpt"));
}

// The far restore fails (a fault injected there) after the source was
// killed, and so does the restore here (the same fault, here): the image is
// kept where the message says, and restores here once the cause is gone.
TEST_F(Migrate, WhenNoRestoreWorksTheImageIsKeptAndRestoresLater) {
  const std::string fake =
      farCkpt("[ \"$1\" = restore ] && export CKPT_FAULT=restore.memory\nexec \"$C\" \"$@\"");
  pid_t pid = h.spawn(programCase("mem_file"));
  std::vector<std::string> argv{"/usr/bin/env", "CKPT_FAULT=restore.memory", "TMPDIR=" + h.dir(),
                                ckptBinary()};
  auto args = migrateArgs(pid, fake);
  argv.insert(argv.end(), args.begin(), args.end());
  RunningCommand cmd = h.start(argv);
  auto st = h.waitExit(pid);
  ASSERT_EQ(st.kind, ExitStatus::Signaled) << "the source " << st.describe();
  auto r = h.finish(cmd);
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("the restore on root@127.0.0.1 failed"), std::string::npos) << r.describe();
  const std::string marker = "its image is kept in ";
  auto at = r.err.find(marker);
  ASSERT_NE(at, std::string::npos) << r.describe();
  const std::string kept =
      r.err.substr(at + marker.size(), r.err.find(';', at) - at - marker.size());
  EXPECT_EQ(kept.rfind(h.dir() + "/ckpt-migrate-" + std::to_string(pid) + "-", 0), 0u) << kept;
  EXPECT_NE(r.err.find("once the cause is fixed, run: ckpt restore " + kept), std::string::npos)
      << r.describe();
  EXPECT_NE(readFile(h.dir() + "/far.log").find("restore - --detach"), std::string::npos);
  // Stubs of the failed restore here that reached us (the subreaper) are reaped.
  h.waitExit(pid, Seconds(5));
  ASSERT_TRUE(waitUntil([&] { return !pidExists(pid); }, Seconds(10)))
      << "a failed restore left the program behind";
  ASSERT_TRUE(std::filesystem::is_directory(kept)) << kept;
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(kept, pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the program restored from the kept image"));
}

// A far ckpt of another architecture and image format: both named, nothing touched.
TEST_F(Migrate, AFarSideThatDoesNotFitIsNamedAndNothingIsTouched) {
  const std::string fake = h.dir() + "/far-ckpt";
  std::ofstream(fake) << "#!/bin/sh\necho '{\"ckpt_version\": \"9.0\", \"image_formats\": [7, 9], "
                         "\"machine\": \"riscv64\", \"kernel\": \"9.9\", \"usable\": true, "
                         "\"features\": []}'\n";
  std::filesystem::permissions(fake, std::filesystem::perms::owner_all);
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  auto r = h.runCkpt(migrateArgs(pid, fake));
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("root@127.0.0.1 cannot take this program: it is riscv64"), std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find("its ckpt 9.0 does not read image format"), std::string::npos)
      << r.describe();
  ASSERT_TRUE(pidExists(pid));
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced({pid}));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the source after a refused migration"));
}

}  // namespace
}  // namespace ckpt::test
