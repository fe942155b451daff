// Every test program on its own, without ckpt: it must get ready, and print
// PASS and exit 0 after SIGUSR1. A program that fails here is broken itself.
#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "CkptTest.hpp"
#include "Programs.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::test {
namespace {

class SelfCheck : public CkptTest, public ::testing::WithParamInterface<ProgramCase> {};

TEST_P(SelfCheck, PassesWithoutCheckpoint) {
  pid_t pid = h.spawn(GetParam());
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, GetParam().name));
  EXPECT_NE(h.log().find("PASS\n"), std::string::npos) << "no PASS line in the log";
  EXPECT_EQ(h.log().find("FAIL"), std::string::npos);
  EXPECT_TRUE(h.reapAll()) << "the program left processes behind";
}

INSTANTIATE_TEST_SUITE_P(Programs, SelfCheck, ::testing::ValuesIn(protocolPrograms()),
                         [](const auto& info) { return caseName(info.param); });

// The checks bite: state changed behind a program's back (as a broken
// restore would) makes it report FAIL and exit 1.
class Tamper : public CkptTest {
 protected:
  void expectCaught(pid_t pid, const std::string& what) {
    ASSERT_EQ(kill(pid, SIGUSR1), 0);
    auto st = h.waitExit(pid);
    EXPECT_TRUE(st.exitedWith(1)) << what << " went unnoticed: " << st.describe();
    EXPECT_NE(h.log().find("FAIL"), std::string::npos) << "no FAIL line for " << what;
  }
};

TEST_F(Tamper, MemBigSeesAChangedWord) {
  pid_t pid = h.spawn({programPath("mem_big"), "64"});
  // The 64 MiB area is the one private anonymous mapping of at least that size.
  std::string maps = readFile("/proc/" + std::to_string(pid) + "/maps");
  unsigned long start = 0, end = 0, found = 0;
  for (size_t pos = 0; pos < maps.size();) {
    size_t eol = maps.find('\n', pos);
    std::string line = maps.substr(pos, eol - pos);
    pos = eol == std::string::npos ? maps.size() : eol + 1;
    if (sscanf(line.c_str(), "%lx-%lx", &start, &end) == 2 && end - start >= (64UL << 20) &&
        line.find(" rw-p ") != std::string::npos)
      found = start;
  }
  ASSERT_NE(found, 0u) << maps;
  UniqueFd mem(open(("/proc/" + std::to_string(pid) + "/mem").c_str(), O_RDWR | O_CLOEXEC));
  uint64_t junk = 0x0123456789abcdefULL;
  ASSERT_EQ(pwrite(mem.get(), &junk, sizeof junk, static_cast<off_t>(found + 5 * 4096 + 64)), 8);
  expectCaught(pid, "a changed word of memory");
}

TEST_F(Tamper, MiscSeesAChangedRlimit) {
  pid_t pid = h.spawn(programCase("misc"));
  rlimit lim{};
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, nullptr, &lim), 0);
  lim.rlim_cur = 150;
  ASSERT_EQ(prlimit(pid, RLIMIT_NOFILE, &lim, nullptr), 0);
  expectCaught(pid, "a changed RLIMIT_NOFILE");
}

TEST_F(Tamper, SignalsSeesAnExtraQueuedSignal) {
  pid_t pid = h.spawn(programCase("signals"));
  ASSERT_EQ(sigqueue(pid, SIGRTMIN + 2, sigval{.sival_int = 999}), 0);
  expectCaught(pid, "an extra queued signal");
}

TEST_F(Tamper, FdsSeesAMovedOffset) {
  pid_t pid = h.spawn(programCase("fds"));
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), 100, 0)));  // its dup2 to 100
  ASSERT_TRUE(fd) << strerror(errno);
  ASSERT_EQ(lseek(fd.get(), 10, SEEK_SET), 10);
  expectCaught(pid, "a moved file offset");
}

TEST_F(Tamper, ThreadsSeeAChangedVectorRegister) {
  pid_t pid = h.spawn(programCase("threads"));
  // Any thread but main is in the register-holding loop: change its xmm5.
  pid_t tid = 0;
  DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.' && atoi(e->d_name) != pid) tid = atoi(e->d_name);
  closedir(d);
  ASSERT_GT(tid, 0);
  ASSERT_EQ(ptrace(PTRACE_SEIZE, tid, nullptr, nullptr), 0) << strerror(errno);
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr), 0);
  int st;
  ASSERT_EQ(waitpid(tid, &st, __WALL), tid);
  alignas(64) unsigned char xsave[8192];
  iovec iov{xsave, sizeof xsave};
  ASSERT_EQ(ptrace(PTRACE_GETREGSET, tid, NT_X86_XSTATE, &iov), 0) << strerror(errno);
  xsave[160 + 5 * 16] ^= 0xff;  // the FXSAVE area holds xmm0-15 from byte 160
  EXPECT_EQ(ptrace(PTRACE_SETREGSET, tid, NT_X86_XSTATE, &iov), 0) << strerror(errno);
  ASSERT_EQ(ptrace(PTRACE_DETACH, tid, nullptr, nullptr), 0);
  expectCaught(pid, "a changed xmm5");
}

}  // namespace
}  // namespace ckpt::test
