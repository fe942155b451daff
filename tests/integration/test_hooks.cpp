// Programs that take part in their checkpoint (core/hooks/): the hooked
// program answers pre-dump, hears resumed or restarted (with the restore's
// --hook-option values), and names its connection to a server outside the
// tree (this test) as external; a refusal and a timeout abort the dump and
// leave the program running; a failed restarted makes restore exit 1.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "CkptTest.hpp"

namespace ckpt::test {
namespace {

class Hooks : public CkptTest {
 protected:
  void TearDown() override {
    for (int fd : {listener_, conn_})
      if (fd >= 0) close(fd);
    CkptTest::TearDown();
  }

  std::string hookName(pid_t pid) const { return "ckpt-hook:hooked-" + std::to_string(pid); }

  void expect(const std::string& line) {
    std::ofstream(h.workDir() + "/hooked.expect") << line << "\n";
  }

  // A stream listener of this test process: the server outside the tree.
  void listen() {
    serverPath_ = h.dir() + "/server.sock";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", serverPath_.c_str());
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
    ASSERT_EQ(::listen(listener_, 4), 0);
  }

  // Takes the next connection to the server and expects `line` on it.
  void acceptAndRead(const std::string& line) {
    pollfd p{listener_, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "nobody connected to the server";
    if (conn_ >= 0) close(conn_);
    conn_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(conn_, 0) << strerror(errno);
    ASSERT_NO_FATAL_FAILURE(readLine(line));
  }

  void readLine(const std::string& line) {
    std::string got;
    while (got.find('\n') == std::string::npos) {
      pollfd p{conn_, POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 10000), 1) << "no line from the program (got \"" << got << "\")";
      char c;
      ASSERT_EQ(read(conn_, &c, 1), 1) << "the connection closed (got \"" << got << "\")";
      got += c;
    }
    EXPECT_EQ(got, line + "\n");
  }

  CommandResult run(std::vector<std::string> args) { return h.runCkpt(args); }

  // After a failed dump: no image, and the tree runs untraced.
  void expectNoImageAndRunning(pid_t pid, const std::string& dir) {
    EXPECT_FALSE(std::filesystem::exists(dir)) << "a failed dump left " << dir;
    EXPECT_FALSE(std::filesystem::exists(dir + ".partial"))
        << "a failed dump left its partial image";
    char st = processState(pid);
    EXPECT_TRUE(st == 'S' || st == 'R') << "pid " << pid << " is in state " << st;
    EXPECT_NE(readFile("/proc/" + std::to_string(pid) + "/status").find("TracerPid:\t0\n"),
              std::string::npos)
        << "pid " << pid << " is still traced";
  }

  void expectFailedWith(const CommandResult& r, const std::string& text) {
    EXPECT_TRUE(r.status.kind == ExitStatus::Exited && r.status.code != 0) << r.describe();
    EXPECT_NE(r.err.find(text), std::string::npos) << "the message must say: " << text << "\n"
                                                   << r.describe();
  }

  std::string serverPath_;
  int listener_ = -1, conn_ = -1;
};

// The hook is found and recorded, quiesces, names its server connection
// (which the dump would refuse otherwise) and hears resumed; the image then
// restores, and the hook hears restarted with the options and reconnects.
TEST_F(Hooks, LeaveRunningThenRestoreWithOptions) {
  ASSERT_NO_FATAL_FAILURE(listen());
  pid_t pid = h.spawn({programPath("hooked"), "ok", serverPath_});
  ASSERT_NO_FATAL_FAILURE(acceptAndRead("hello"));
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), false));
  auto manifest = nlohmann::json::parse(readFile(h.imageDir() + "/manifest.json"));
  ASSERT_EQ(manifest["hooks"].size(), 1u) << manifest["hooks"].dump();
  EXPECT_EQ(manifest["hooks"][0]["pid"], pid);
  EXPECT_EQ(manifest["hooks"][0]["name"], hookName(pid));
  expect("resumed");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
  ASSERT_NO_FATAL_FAILURE(readLine("bye"));
  ASSERT_TRUE(h.reapAll()) << "the original tree left processes behind";

  auto r = run({"restore", h.imageDir(), "--detach", "--hook-option", "display=:2", "--hook-option",
                "answer=42 and \"more\""});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  // restarted answers only after it connected again: the line is there.
  ASSERT_NO_FATAL_FAILURE(acceptAndRead("again"));
  expect("restarted display=:2");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the restored tree"));
  ASSERT_NO_FATAL_FAILURE(readLine("bye"));
}

// The poll-style library (ckpt_hook_fd/dispatch) served by the main thread,
// through dump --kill and restore.
TEST_F(Hooks, PollStyleKillThenRestore) {
  pid_t pid = h.spawn({programPath("hooked"), "--poll", "ok"});
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  auto r = run({"restore", h.imageDir(), "--detach", "--hook-option", "display=:7"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  expect("restarted display=:7");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the restored tree"));
}

TEST_F(Hooks, RefusalAbortsTheDump) {
  pid_t pid = h.spawn({programPath("hooked"), "refuse"});
  auto r = run({"dump", std::to_string(pid), "-o", h.imageDir()});
  expectFailedWith(r, "pid " + std::to_string(pid) + " hook " + hookName(pid) +
                          " refused the dump: hooked refuses to be dumped (test)");
  expectNoImageAndRunning(pid, h.imageDir());
  expect("refused");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the refused dump"));
}

TEST_F(Hooks, TimeoutAbortsTheDump) {
  pid_t pid = h.spawn({programPath("hooked"), "hang"});
  auto t0 = Clock::now();
  auto r = run({"dump", std::to_string(pid), "-o", h.imageDir(), "--hook-timeout", "1"});
  auto took = Clock::now() - t0;
  expectFailedWith(r, "pid " + std::to_string(pid) + " hook " + hookName(pid) +
                          ": no answer to pre-dump within 1 s (--hook-timeout)");
  EXPECT_LT(took, Seconds(8)) << "--hook-timeout 1 was not kept";
  expectNoImageAndRunning(pid, h.imageDir());
  // SIGUSR1 lets the hang end: the late pre-dump is followed by resumed
  // with dump_failed, which ckpt sent before it gave up.
  expect("failed");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the timed-out dump"));
}

// restarted fails (the server is gone): the tree runs, restore exits 1 and
// says which hook failed and why.
TEST_F(Hooks, RestoreReportsAFailedRestart) {
  ASSERT_NO_FATAL_FAILURE(listen());
  pid_t pid = h.spawn({programPath("hooked"), "ok", serverPath_});
  ASSERT_NO_FATAL_FAILURE(acceptAndRead("hello"));
  auto tree = Harness::treePids(pid);
  ASSERT_NO_FATAL_FAILURE(dump(pid, h.imageDir(), true));
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  close(listener_);
  listener_ = -1;
  unlink(serverPath_.c_str());
  auto r = run({"restore", h.imageDir(), "--detach"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_EQ(parsePidLine(r.out), pid) << "--detach prints the root pid all the same\n"
                                      << r.describe();
  EXPECT_NE(r.err.find("pid " + std::to_string(pid) + " hook " + hookName(pid) +
                       " failed to restart: cannot connect to " + serverPath_),
            std::string::npos)
      << r.describe();
  EXPECT_TRUE(pidExists(pid)) << "the restored tree must keep running";
}

}  // namespace
}  // namespace ckpt::test
