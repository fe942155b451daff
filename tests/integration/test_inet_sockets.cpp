// TCP and UDP sockets dumped and restored: the listeners and UDP sockets the
// inet_sockets program builds, and a TCP connection to a server outside the
// tree (this test is the server): refused, then restored as closed with
// --tcp-close or --external.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "CkptTest.hpp"

namespace ckpt::test {
namespace {

class InetSockets : public CkptTest {};

// Self-check, kill and leave-running runs of this program are with every
// protocol program (Programs.cpp); here are the ones only it needs.

// A TCP listener of this test process on loopback: the server outside the tree.
class InetExternal : public CkptTest, public ::testing::WithParamInterface<int> {
 protected:
  void SetUp() override {
    family_ = GetParam();
    listener_ = socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(listener_, 0);
    sockaddr_storage ss{};
    socklen_t len;
    if (family_ == AF_INET6) {
      auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
      s6->sin6_family = AF_INET6;
      s6->sin6_addr = in6addr_loopback;
      len = sizeof *s6;
    } else {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
      s4->sin_family = AF_INET;
      s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *s4;
    }
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&ss), len), 0) << strerror(errno);
    ASSERT_EQ(listen(listener_, 4), 0);
    len = sizeof ss;
    ASSERT_EQ(getsockname(listener_, reinterpret_cast<sockaddr*>(&ss), &len), 0);
    port_ = ntohs(family_ == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                      : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  void TearDown() override {
    if (conn_ >= 0) close(conn_);
    if (listener_ >= 0) close(listener_);
    CkptTest::TearDown();
  }

  // Starts inet_external, accepts its connection and queues "from-server" to it.
  void start(pid_t* pid) {
    std::vector<std::string> argv{programPath("inet_external"), std::to_string(port_)};
    if (family_ == AF_INET6) argv.push_back("6");
    *pid = h.spawn(argv);
    pollfd p{listener_, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 10000), 1) << "inet_external did not connect";
    conn_ = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    ASSERT_GE(conn_, 0) << strerror(errno);
    ASSERT_EQ(send(conn_, "from-server", 11, MSG_NOSIGNAL), 11);
    // Let the bytes reach the program's receive queue before any dump.
    usleep(100 * 1000);
  }

  void expect(const std::string& mode) {
    std::ofstream(h.workDir() + "/inet_external.expect") << mode << "\n";
  }

  CommandResult dumpWith(pid_t pid, std::vector<std::string> extra) {
    std::vector<std::string> args{"dump", std::to_string(pid), "-o", h.imageDir()};
    args.insert(args.end(), extra.begin(), extra.end());
    return h.runCkpt(args);
  }

  // Once the program woke up with the server alive: its "ping" came through.
  void expectPing() {
    std::string got;
    char buf[32];
    while (got.size() < 15) {
      pollfd p{conn_, POLLIN, 0};
      ASSERT_EQ(poll(&p, 1, 10000), 1) << "no data from the program; got '" << got << "'";
      ssize_t n = recv(conn_, buf, sizeof buf, 0);
      ASSERT_GT(n, 0);
      got.append(buf, size_t(n));
    }
    EXPECT_EQ(got, "from-clientping");
  }

  int family_ = AF_INET;
  int listener_ = -1, conn_ = -1;
  int port_ = 0;
};

TEST_P(InetExternal, RefusedWithoutFlagsAndTheProgramRunsOn) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  auto r = dumpWith(pid, {});
  EXPECT_TRUE(r.status.kind == ExitStatus::Exited && r.status.code != 0) << r.describe();
  const std::string where = "pid " + std::to_string(pid) + " fd 42";
  EXPECT_NE(r.err.find(where), std::string::npos) << "the message must name " << where << "\n"
                                                  << r.describe();
  const std::string remote =
      family_ == AF_INET6 ? "[::1]:" + std::to_string(port_) : "127.0.0.1:" + std::to_string(port_);
  EXPECT_NE(r.err.find("-> " + remote), std::string::npos)
      << "the message must name the remote address " << remote << "\n"
      << r.describe();
  EXPECT_NE(r.err.find(family_ == AF_INET6 ? "TCP [::1]:" : "TCP 127.0.0.1:"), std::string::npos)
      << "the message must name the local address\n"
      << r.describe();
  EXPECT_NE(r.err.find("--external " + std::to_string(pid) + ":42"), std::string::npos)
      << r.describe();
  EXPECT_NE(r.err.find("--tcp-close"), std::string::npos) << r.describe();
  EXPECT_FALSE(std::filesystem::exists(h.imageDir())) << "a failed dump left an image";
  EXPECT_FALSE(std::filesystem::exists(h.imageDir() + ".partial"))
      << "a failed dump left a partial image";
  expect("alive");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after the refused dump"));
  ASSERT_NO_FATAL_FAILURE(expectPing());
}

TEST_P(InetExternal, KillThenRestoreClosedWithTcpClose) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  auto tree = Harness::treePids(pid);
  auto r = dumpWith(pid, {"--kill", "--tcp-close"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_NO_FATAL_FAILURE(expectGone(pid, tree));
  // Killed with data unread, its end reset the connection: the port is free.
  expect("closed-sameport");
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored program"));
}

TEST_P(InetExternal, LeaveRunningThenRestoreClosedWithExternal) {
  pid_t pid;
  ASSERT_NO_FATAL_FAILURE(start(&pid));
  auto r = dumpWith(pid, {"--external", std::to_string(pid) + ":42"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  expect("alive");
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
  ASSERT_NO_FATAL_FAILURE(expectPing());
  ASSERT_TRUE(h.reapAll());
  // Its old connection holds the local port (FIN_WAIT2 / TIME_WAIT): another one is taken.
  expect("closed");
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored program"));
}

INSTANTIATE_TEST_SUITE_P(Families, InetExternal, ::testing::Values(AF_INET, AF_INET6),
                         [](const auto& info) { return info.param == AF_INET6 ? "IPv6" : "IPv4"; });

}  // namespace
}  // namespace ckpt::test
