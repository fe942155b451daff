// ckpt's errors: clear, non-zero, and harmless.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class Errors : public CkptTest {};

// A pid that was just used and is free now.
pid_t freePid() {
  pid_t p = fork();
  if (p == 0) _exit(0);
  waitpid(p, nullptr, 0);
  return p;
}

TEST_F(Errors, DumpOfNonexistentPid) {
  pid_t pid = freePid();
  ASSERT_FALSE(pidExists(pid));
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", h.imageDir()});
  EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
  EXPECT_NE(r.status.code, 0) << r.describe();
  EXPECT_NE(r.err.find(std::to_string(pid)), std::string::npos) << "the message must name the pid\n"
                                                                << r.describe();
  EXPECT_FALSE(std::filesystem::exists(h.imageDir())) << "a failed dump left an image";
  EXPECT_FALSE(std::filesystem::exists(h.imageDir() + ".partial"))
      << "a failed dump left a partial image";
}

TEST_F(Errors, RestoreOfNonexistentDir) {
  const std::string dir = h.dir() + "/no-such-image";
  for (bool detach : {true, false}) {
    SCOPED_TRACE(detach ? "--detach" : "foreground");
    std::vector<std::string> args{"restore", dir};
    if (detach) args.push_back("--detach");
    auto r = h.runCkpt(args);
    EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
    EXPECT_NE(r.status.code, 0) << r.describe();
    EXPECT_NE(r.err.find(dir), std::string::npos) << "the message must name the path\n"
                                                  << r.describe();
    EXPECT_EQ(r.out, "") << "no pid may be printed on failure";
    EXPECT_TRUE(h.reapAll(Seconds(5))) << "a failed restore left processes";
  }
}

// Pids that name nothing ckpt may dump: each refused with a line that says
// why, before anything is frozen or written.
TEST_F(Errors, DumpRefusesPidsItMustNotTake) {
  pid_t pid = h.spawn(programCase("sturdy"));
  std::string tid;
  for (const auto& t :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task"))
    if (t.path().filename() != std::to_string(pid)) tid = t.path().filename();
  ASSERT_FALSE(tid.empty()) << "sturdy has threads";
  struct Case {
    std::vector<std::string> argv;
    std::string says;
  };
  const std::string img = h.imageDir();
  for (const auto& c : std::vector<Case>{
           {{ckptBinary(), "dump", "1", "-o", img}, "pid 1 (init) cannot be checkpointed"},
           {{ckptBinary(), "dump", tid, "-o", img},
            tid + " is a thread of process " + std::to_string(pid)},
           {{"/bin/sh", "-c", "exec \"$0\" dump $$ -o \"$1\"", ckptBinary(), img},
            "is ckpt itself"},
           {{ckptBinary(), "dump", "0", "-o", img}, "0 is not a valid pid"},
           {{ckptBinary(), "dump", "-5", "-o", img}, "-5"},
       }) {
    auto r = h.run(c.argv);
    EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
    EXPECT_NE(r.status.code, 0) << r.describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.describe();
    EXPECT_FALSE(std::filesystem::exists(img)) << r.describe();
    EXPECT_FALSE(std::filesystem::exists(img + ".partial")) << r.describe();
  }
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after refused dumps"));
}

// An output directory that exists is never written into or replaced.
TEST_F(Errors, DumpRefusesAnExistingOutputDir) {
  pid_t pid = h.spawn(programCase("sturdy"));
  const std::string img = h.imageDir();
  std::filesystem::create_directory(img);
  { std::ofstream(img + "/mine") << "keep"; }
  auto r = h.runCkpt({"dump", std::to_string(pid), "-o", img});
  EXPECT_NE(r.status.code, 0) << r.describe();
  EXPECT_NE(r.err.find(img + " already exists"), std::string::npos) << r.describe();
  EXPECT_EQ(readFile(img + "/mine"), "keep");
  EXPECT_FALSE(std::filesystem::exists(img + ".partial"));
  ASSERT_NO_FATAL_FAILURE(expectRunningUntraced(Harness::treePids(pid)));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(pid, "the program after a refused dump"));
}

// Options may stand before or after the positional arguments; repeatable
// options take one value each, so a positional after them stays positional.
TEST_F(Errors, OptionsBeforeOrAfterPositionals) {
  const std::string dir = h.dir() + "/no-such-image";
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"restore", "--detach", dir},
           {"restore", dir, "--detach"},
           {"restore", "--hook-option", "a=b", dir, "--hook-option", "c=d"},
           {"dump", "--external", "1:2", "999999", "-o", dir},
           {"dump", "-o", dir, "999999", "--kill"}}) {
    auto r = h.runCkpt(args);
    EXPECT_NE(r.status.code, 0) << r.describe();
    // The command ran (and failed on the missing pid or image), not the parser.
    EXPECT_TRUE(r.err.find(dir) != std::string::npos || r.err.find("999999") != std::string::npos)
        << r.describe();
    EXPECT_EQ(r.err.find("--help"), std::string::npos) << "rejected by the parser\n"
                                                       << r.describe();
  }
}

// Documented exit codes: 2 for a mistake on the command line; --help shows
// examples and the exit codes, for every command.
TEST_F(Errors, CommandLineMistakesExitTwoAndHelpHasExamples) {
  auto r = h.runCkpt({"dump"});
  EXPECT_TRUE(r.status.exitedWith(2)) << r.describe();
  EXPECT_NE(r.err.find("pid is required"), std::string::npos) << r.describe();
  r = h.runCkpt({"no-such-command"});
  EXPECT_TRUE(r.status.exitedWith(2)) << r.describe();
  r = h.runCkpt({"restore", "x", "--detach", "--shell-job"});
  EXPECT_TRUE(r.status.exitedWith(2)) << r.describe();
  auto help = h.runCkpt({"--help"});
  EXPECT_TRUE(help.status.ok()) << help.describe();
  EXPECT_NE(help.out.find("Exit status"), std::string::npos) << help.out;
  for (const char* cmd : {"dump", "restore"}) {
    auto sub = h.runCkpt({cmd, "--help"});
    EXPECT_TRUE(sub.status.ok()) << sub.describe();
    EXPECT_NE(sub.out.find("Examples:"), std::string::npos) << sub.out;
  }
}

}  // namespace
}  // namespace ckpt::test
