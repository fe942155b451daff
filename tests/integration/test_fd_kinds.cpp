// The anonymous-inode kinds of open files (eventfd, timerfd, signalfd,
// inotify, epoll): each program passes on its own and notices tampering,
// then is dumped leaving it running and with --kill, and restored. Plus the
// states ckpt must refuse to dump, clearly and without harm.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>

#include <filesystem>
#include <optional>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::test {
namespace {

std::vector<ProgramCase> fdKindPrograms() {
  std::vector<ProgramCase> out;
  for (const char* name : {"eventfd", "timerfd", "signalfd", "inotify", "epoll"})
    out.push_back({name, {programPath(name)}});
  return out;
}

// A built test program with its arguments.
std::vector<std::string> program(const std::string& name, std::vector<std::string> args = {}) {
  args.insert(args.begin(), programPath(name));
  return args;
}

std::string nameOf(const ::testing::TestParamInfo<ProgramCase>& info) {
  return info.param.name;
}

std::string fdLink(pid_t pid, int fd) {
  char buf[256] = {};
  std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// The first fd of pid whose link is `link` and whose fdinfo contains `needle`.
std::optional<int> findFd(pid_t pid, const std::string& link, const std::string& needle = "") {
  for (auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    int fd = std::stoi(e.path().filename().string());
    if (fdLink(pid, fd) != link) continue;
    std::string info = readFile("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
    if (info.find(needle) != std::string::npos) return fd;
  }
  return std::nullopt;
}

// ckpt's own duplicate of a program's fd.
UniqueFd grab(pid_t pid, int fd) {
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return UniqueFd();
  return UniqueFd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd, 0)));
}

// ---- each program on its own

class FdKindSelfCheck : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(FdKindSelfCheck, PassesWithoutCheckpoint) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, GetParam().name));
  EXPECT_EQ(h.log().find("FAIL"), std::string::npos);
  EXPECT_TRUE(h.reapAll()) << "the program left processes behind";
}

INSTANTIATE_TEST_SUITE_P(FdKinds, FdKindSelfCheck, ::testing::ValuesIn(fdKindPrograms()), nameOf);

// The checks bite: the state changed behind the program's back (as a broken
// restore would) makes it fail.
class FdKindTamper : public CkptTest {
 protected:
  void expectCaught(pid_t pid, const std::string& what) {
    ASSERT_EQ(kill(pid, SIGUSR1), 0);
    auto st = h.waitExit(pid);
    EXPECT_TRUE(st.exitedWith(1)) << what << " went unnoticed: " << st.describe();
    EXPECT_NE(h.log().find("FAIL"), std::string::npos) << "no FAIL line for " << what;
  }
};

TEST_F(FdKindTamper, EventfdSeesAChangedCounter) {
  pid_t pid = h.spawn(program("eventfd"));
  auto fd = findFd(pid, "anon_inode:[eventfd]", "eventfd-count:                5\n");
  ASSERT_TRUE(fd) << "no eventfd with count 5";
  UniqueFd local = grab(pid, *fd);
  ASSERT_TRUE(local) << strerror(errno);
  uint64_t one = 1;
  ASSERT_EQ(write(local.get(), &one, sizeof one), 8);
  expectCaught(pid, "an eventfd counter of 6");
}

TEST_F(FdKindTamper, TimerfdSeesLostExpirations) {
  pid_t pid = h.spawn(program("timerfd"));
  auto fd = findFd(pid, "anon_inode:[timerfd]", "it_interval: (1000, 0)");
  ASSERT_TRUE(fd) << "no periodic timerfd";
  UniqueFd local = grab(pid, *fd);
  ASSERT_TRUE(local) << strerror(errno);
  uint64_t ticks = 0;
  ASSERT_EQ(read(local.get(), &ticks, sizeof ticks), 8);  // takes the 11 expirations
  expectCaught(pid, "unread timerfd expirations taken");
}

TEST_F(FdKindTamper, SignalfdSeesAnExtraSignal) {
  pid_t pid = h.spawn(program("signalfd"));
  ASSERT_EQ(sigqueue(pid, SIGRTMIN + 2, sigval{.sival_int = 99}), 0);
  expectCaught(pid, "an extra pending signal");
}

TEST_F(FdKindTamper, InotifySeesAnExtraWatch) {
  pid_t pid = h.spawn(program("inotify"));
  auto fd = findFd(pid, "anon_inode:inotify", "inotify wd:5 ");
  ASSERT_TRUE(fd) << "no inotify instance with watch 5";
  UniqueFd local = grab(pid, *fd);
  ASSERT_TRUE(local) << strerror(errno);
  ASSERT_GT(inotify_add_watch(local.get(), h.dir().c_str(), IN_CREATE), 0) << strerror(errno);
  expectCaught(pid, "an extra inotify watch");
}

TEST_F(FdKindTamper, EpollSeesAnExtraRegistration) {
  pid_t pid = h.spawn(program("epoll"));
  auto ep = findFd(pid, "anon_inode:[eventpoll]", "data:             3333");
  ASSERT_TRUE(ep) << "no epoll with the eventfd registered";
  UniqueFd local = grab(pid, *ep);
  UniqueFd efd(eventfd(1, 0));
  ASSERT_TRUE(local && efd) << strerror(errno);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0xbad;
  ASSERT_EQ(epoll_ctl(local.get(), EPOLL_CTL_ADD, efd.get(), &ev), 0) << strerror(errno);
  expectCaught(pid, "an extra epoll registration");
}

// ---- dump and restore

class FdKindDumpRestore : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(FdKindDumpRestore, LeaveRunning) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(leaveRunningRestoreAndCheck(pid, h.imageDir()));
}

TEST_P(FdKindDumpRestore, Kill) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(killRestoreAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(FdKinds, FdKindDumpRestore, ::testing::ValuesIn(fdKindPrograms()), nameOf);

// The filler watches (inotify) and the registrations (epoll) are made again
// by every restore of one image.
class FdKindRestoreTwice : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(FdKindRestoreTwice, SameImage) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(restoreTwiceAndCheck(pid, h.imageDir()));
}

INSTANTIATE_TEST_SUITE_P(FdKinds, FdKindRestoreTwice,
                         ::testing::Values(ProgramCase{"inotify", {programPath("inotify")}},
                                           ProgramCase{"epoll", {programPath("epoll")}}),
                         nameOf);

// ---- what ckpt must say

class FdKindErrors : public CkptTest {
 protected:
  // The dump fails, leaves no image, and the program runs on unharmed.
  void expectRefused(pid_t pid, const std::vector<std::string>& mustSay) {
    auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
    EXPECT_TRUE(r.status.kind == ExitStatus::Exited && r.status.code != 0) << "the dump must fail\n"
                                                                           << r.describe();
    for (const auto& s : mustSay)
      EXPECT_NE(r.err.find(s), std::string::npos) << "the message must say '" << s << "'\n"
                                                  << r.describe();
    EXPECT_FALSE(std::filesystem::exists(h.imageDir())) << "a failed dump left an image";
    EXPECT_FALSE(std::filesystem::exists(h.imageDir() + ".partial"))
        << "a failed dump left a partial image";
    std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
    EXPECT_NE(status.find("TracerPid:\t0\n"), std::string::npos) << "still traced after the dump";
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program, after the failed dump"));
  }
};

TEST_F(FdKindErrors, EpollRegistrationOfAClosedFd) {
  pid_t pid = h.spawn(program("epoll", {"closed-tfd"}));
  // The registration with data 0x9999 names an fd that is closed now.
  std::optional<int> ep, tfd;
  for (int fd = 0; fd < 256 && !ep; fd++) {
    std::string info = readFile("/proc/" + std::to_string(pid) + "/fdinfo/" + std::to_string(fd));
    size_t at = info.find("data:             9999");
    if (at == std::string::npos) continue;
    size_t line = info.rfind("tfd:", at);
    ep = fd;
    tfd = std::stoi(info.substr(line + 4));
  }
  ASSERT_TRUE(ep && tfd) << "no registration with data 0x9999";
  ASSERT_EQ(fdLink(pid, *tfd), "") << "fd " << *tfd << " should be closed";
  expectRefused(pid, {"pid " + std::to_string(pid) + " fd " + std::to_string(*ep),
                      "fd " + std::to_string(*tfd) + " (events", "closed"});
}

TEST_F(FdKindErrors, InotifyWarnsThatQueuedEventsAreLost) {
  pid_t pid = h.spawn(program("inotify"));
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  EXPECT_NE(r.err.find("queued events are not saved"), std::string::npos)
      << "no warning about the queued inotify event\n"
      << r.describe();
  EXPECT_NE(readFile(h.imageDir() + "/dump.log").find("queued events are not saved"),
            std::string::npos)
      << "the warning is not in dump.log";
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the original, after the dump"));
}

TEST_F(FdKindErrors, FanotifyIsRefusedClearly) {
  if (geteuid() != 0) GTEST_SKIP() << "fanotify_init needs CAP_SYS_ADMIN";
  pid_t pid = h.spawn(program("inotify", {"fanotify"}));
  auto fd = findFd(pid, "anon_inode:[fanotify]");
  ASSERT_TRUE(fd) << "the program holds no fanotify fd";
  expectRefused(pid, {"pid " + std::to_string(pid) + " fd " + std::to_string(*fd), "[fanotify]",
                      "cannot be checkpointed"});
}

}  // namespace
}  // namespace ckpt::test
