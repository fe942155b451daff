// `ckpt dump PID -o -` / `ckpt restore -`: the image as one stream through
// a pipe. The restored program passes its checks; a stream cut short is
// refused with a clear line and starts nothing.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

class Stream : public CkptTest {
 protected:
  std::string ckpt() const { return ckptBinary(); }
  // The one-process tree was killed by the dump: reap it (while the shell
  // pipeline, also a child, runs on) so that its pid is free again.
  void expectKilled(pid_t pid) {
    auto st = h.waitExit(pid);
    ASSERT_EQ(st.kind, ExitStatus::Signaled) << "pid " << pid << " " << st.describe();
  }
};

TEST_F(Stream, DumpPipedIntoRestore) {
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  const std::string p = std::to_string(pid);
  RunningCommand cmd = h.start(
      {"/bin/sh", "-c",
       ckpt() + " dump " + p + " -o - --kill --compress zstd | " + ckpt() + " restore - --detach"});
  // The dump kills the original once the stream is out; reaping it here
  // frees its pid for the restore on the other end of the pipe.
  ASSERT_NO_FATAL_FAILURE(expectKilled(pid));
  auto r = h.finish(cmd);
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program restored from the stream"));
}

TEST_F(Stream, TruncatedStreamStartsNothing) {
  pid_t pid = h.spawn(programCase("mem_anon"));
  const std::string file = h.dir() + "/image.stream";
  RunningCommand dump = h.start(
      {"/bin/sh", "-c", ckpt() + " dump " + std::to_string(pid) + " -o - --kill > " + file});
  ASSERT_NO_FATAL_FAILURE(expectKilled(pid));
  auto d = h.finish(dump);
  ASSERT_TRUE(d.status.ok()) << d.describe();
  const auto size = fs::file_size(file);
  ASSERT_GT(size, 4096u);

  for (uint64_t cut : {uint64_t(10), size / 2, size - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(size));
    auto r = h.run(
        {"/bin/sh", "-c",
         "head -c " + std::to_string(cut) + " " + file + " | " + ckpt() + " restore - --detach"});
    EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
    EXPECT_NE(r.err.find("ckpt: restore: the image stream on stdin"), std::string::npos)
        << r.describe();
    EXPECT_NE(r.err.find("nothing was restored"), std::string::npos) << r.describe();
    EXPECT_FALSE(pidExists(pid)) << "a refused stream started pid " << pid;
  }
  auto r = h.run({"/bin/sh", "-c", ckpt() + " restore - --detach < " + file});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program restored from the whole stream"));
}

// A reader that goes away fails the dump, and the program lives on.
TEST_F(Stream, ClosedPipeLeavesTheProgramRunning) {
  pid_t pid = h.spawn({programPath("mem_changes"), "16"});
  auto r =
      h.run({"/bin/sh", "-c",
             ckpt() + " dump " + std::to_string(pid) + " -o - --kill | head -c 100 >/dev/null"});
  EXPECT_TRUE(pidExists(pid)) << r.describe();
  std::string status = readFile("/proc/" + std::to_string(pid) + "/status");
  EXPECT_NE(status.find("TracerPid:\t0\n"), std::string::npos) << "still traced after the dump";
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after a failed streamed dump"));
}

}  // namespace
}  // namespace ckpt::test
