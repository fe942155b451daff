// Unix domain sockets dumped and restored: every kind the unix_sockets
// program builds, a connection to a server outside the tree (this test is the
// server) with and without --external, and descriptors in flight.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "CkptTest.hpp"

namespace ckpt::test {
namespace {

class UnixSockets : public CkptTest {};

// Self-check, kill and leave-running runs of this program are with every
// protocol program (Programs.cpp); here are the ones only it needs.

TEST_F(UnixSockets, RestoreTwice) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("unix_sockets")});
  ASSERT_NO_FATAL_FAILURE(restoreTwiceAndCheck(pid, h.imageDir()));
}

// A listening socket of this test process: the server outside the tree.
class UnixExternal : public CkptTest {
 protected:
  void SetUp() override {
    path_ = h.dir() + "/server.sock";
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
    ASSERT_EQ(listen(listener_, 4), 0);
    logPath_ = h.dir() + "/log.sock";
    dgram_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(dgram_, 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", logPath_.c_str());
    ASSERT_EQ(bind(dgram_, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << strerror(errno);
  }
  void TearDown() override {
    if (conn_ >= 0) close(conn_);
    if (listener_ >= 0) close(listener_);
    if (dgram_ >= 0) close(dgram_);
    CkptTest::TearDown();
  }

  // Starts unix_external, accepts its connection and queues "from-server" to
  // it. Its datagram socket is connected to logPath_ (one way, like syslog).
  void start(pid_t* pid) {
    *pid = h.spawn(std::vector<std::string>{programPath("unix_external"), path_, logPath_});
    pollfd p{listener_, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "unix_external did not connect";
    conn_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(conn_, 0) << strerror(errno);
    ASSERT_EQ(send(conn_, "from-server", 11, MSG_NOSIGNAL), 11);
  }

  void expect(const std::string& mode) {
    std::ofstream(h.workDir() + "/unix_external.expect") << mode << "\n";
  }

  CommandResult dumpWith(pid_t pid, std::vector<std::string> extra) {
    std::vector<std::string> args{"dump", std::to_string(pid), "-o", h.imageDir()};
    args.insert(args.end(), extra.begin(), extra.end());
    return h.runCkpt(args);
  }

  // Dumps with --kill and `flags`, restores: the program finds its outside
  // connection closed and its datagram socket still working.
  void killAndRestoreClosed(pid_t pid, std::vector<std::string> flags) {
    auto tree = Harness::treePids(pid);
    flags.insert(flags.begin(), "--kill");
    auto r = dumpWith(pid, flags);
    ASSERT_TRUE(r.status.ok()) << r.describe();
    ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
    expect("closed");
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored program"));
    ASSERT_NO_FATAL_FAILURE(expectDatagram());
  }

  // Once the program woke up: its datagram socket still reaches logPath_.
  void expectDatagram() {
    pollfd p{dgram_, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "no datagram came to " << logPath_;
    char buf[16] = {};
    EXPECT_EQ(recv(dgram_, buf, sizeof buf, 0), 5);
    EXPECT_STREQ(buf, "after");
  }

  std::string path_, logPath_;
  int listener_ = -1, conn_ = -1, dgram_ = -1;
};

TEST_F(UnixExternal, RefusedWithoutExternalAndTheProgramRunsOn) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  auto r = dumpWith(pid, {});
  EXPECT_TRUE(r.status.kind == ExitStatus::Exited && r.status.code != 0) << r.describe();
  const std::string where = "pid " + std::to_string(pid) + " fd 42";
  EXPECT_NE(r.err.find(where), std::string::npos) << "the message must name " << where << "\n"
                                                  << r.describe();
  EXPECT_NE(r.err.find(path_), std::string::npos) << "the message must name the peer\n"
                                                  << r.describe();
  EXPECT_NE(r.err.find("--external " + std::to_string(pid) + ":42"), std::string::npos)
      << "the message must say how to go on\n"
      << r.describe();
  EXPECT_NE(r.err.find("--unix-close"), std::string::npos) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(h.imageDir())) << "a failed dump left an image";
  EXPECT_FALSE(std::filesystem::exists(h.imageDir() + ".partial"))
      << "a failed dump left a partial image";
  expect("alive");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the refused dump"));
  ASSERT_NO_FATAL_FAILURE(expectDatagram());
}

TEST_F(UnixExternal, KillThenRestoreAsClosed) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  ASSERT_NO_FATAL_FAILURE(killAndRestoreClosed(pid, {"--external", std::to_string(pid) + ":42"}));
}

TEST_F(UnixExternal, LeaveRunningThenRestoreAsClosed) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  auto r = dumpWith(pid, {"--external", std::to_string(pid) + ":42"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  expect("alive");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
  ASSERT_NO_FATAL_FAILURE(expectDatagram());
  ASSERT_TRUE(h.reapAll());
  expect("closed");
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored program"));
  ASSERT_NO_FATAL_FAILURE(expectDatagram());
}

// --unix-close: every unix connection to outside, without naming each.
TEST_F(UnixExternal, UnixCloseRestoresEveryOutsideConnectionAsClosed) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  ASSERT_NO_FATAL_FAILURE(killAndRestoreClosed(pid, {"--unix-close"}));
}

TEST_F(UnixSockets, FdsInFlightAreRefused) {
  pid_t pid = h.spawn(std::vector<std::string>{programPath("unix_inflight")});
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
  EXPECT_TRUE(r.status.kind == ExitStatus::Exited && r.status.code != 0) << r.describe();
  const std::string where = "pid " + std::to_string(pid) + " fd 40";
  EXPECT_NE(r.err.find(where), std::string::npos) << "the message must name " << where << "\n"
                                                  << r.describe();
  EXPECT_NE(r.err.find("SCM_RIGHTS"), std::string::npos) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(h.imageDir())) << "a failed dump left an image";
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the refused dump"));
}

}  // namespace
}  // namespace ckpt::test
