// SysV semaphores and message queues and file locks, beyond the plain dump
// and restore of their programs: what ckpt refuses, and what it shows.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/msg.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "CkptTest.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class Ipc : public CkptTest {
 protected:
  nlohmann::json inspectJson() {
    auto r = h.runCkpt({"inspect", "--json", h.imageDir()});
    EXPECT_TRUE(r.status.ok()) << r.describe();
    return r.status.ok() ? nlohmann::json::parse(r.out) : nlohmann::json::object();
  }
  // Starts `prog`, dumps it with --kill and waits until its pids are free.
  void spawnAndDumpKilled(const ProgramCase& prog, pid_t* pid, std::vector<pid_t>* tree) {
    *pid = h.spawn(prog);
    *tree = Harness::treePids(*pid);
    ASSERT_NO_FATAL_FAILURE(dump(*pid, h.imageDir(), true));
    ASSERT_NO_FATAL_FAILURE(expectGone(*pid, *tree));
  }
  void restoreAndPass(pid_t pid) {
    pid_t restored;
    ASSERT_NO_FATAL_FAILURE(restoreDetached(h.imageDir(), pid, &restored));
    ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
  }
  void expectFailed(const CommandResult& r, const std::vector<std::string>& words) {
    EXPECT_EQ(r.status.kind, ExitStatus::Exited) << r.describe();
    EXPECT_NE(r.status.code, 0) << r.describe();
    for (const auto& w : words)
      EXPECT_NE(r.err.find(w), std::string::npos) << "the message must say '" << w << "'\n"
                                                  << r.describe();
  }
};

TEST_F(Ipc, InspectListsQueuesAndSemaphores) {
  for (const char* prog : {"sysv_msg", "sysv_sem"}) {
    SCOPED_TRACE(prog);
    std::filesystem::remove_all(h.imageDir());
    pid_t pid;
    std::vector<pid_t> tree;
    ASSERT_NO_FATAL_FAILURE(spawnAndDumpKilled(programCase(prog), &pid, &tree));
    auto r = h.runCkpt({"inspect", h.imageDir()});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    auto doc = inspectJson();
    if (std::string(prog) == "sysv_msg") {
      EXPECT_NE(r.out.find("4 messages"), std::string::npos) << r.out;
      ASSERT_EQ(doc["sysv_message_queues"].size(), 2u) << doc.dump(2);
      EXPECT_EQ(doc["sysv_message_queues"][0]["messages"], 4);
    } else {
      EXPECT_NE(r.out.find("5 semaphores (3 2 7 32767 0)"), std::string::npos) << r.out;
      ASSERT_EQ(doc["sysv_semaphores"].size(), 2u) << doc.dump(2);
    }
    // The restored program removes its objects when it ends.
    ASSERT_NO_FATAL_FAILURE(restoreAndPass(pid));
  }
}

// A queue left from the dump that now holds other messages is not emptied
// to fit the image: restore refuses, and works once the queue is removed.
TEST_F(Ipc, LeftQueueWithOtherMessagesIsRefused) {
  pid_t pid;
  std::vector<pid_t> tree;
  ASSERT_NO_FATAL_FAILURE(spawnAndDumpKilled(programCase("sysv_msg"), &pid, &tree));
  int id = inspectJson()["sysv_message_queues"][0]["msqid"].get<int>();
  struct {
    long type;
    char text[8];
  } extra{777, "extra"};
  ASSERT_EQ(msgsnd(id, &extra, 5, IPC_NOWAIT), 0) << strerror(errno);
  auto r = h.runCkpt({"restore", h.imageDir(), "--detach"});
  expectFailed(r, {"message queue " + std::to_string(id), "ipcrm -q"});
  EXPECT_TRUE(h.reapAll(Seconds(5))) << "a failed restore left processes";
  EXPECT_FALSE(pidExists(pid)) << "a failed restore left pid " << pid;
  // As the message says: the queue removed, restore makes it anew.
  ASSERT_EQ(msgctl(id, IPC_RMID, nullptr), 0) << strerror(errno);
  ASSERT_NO_FATAL_FAILURE(restoreAndPass(pid));
}

// A lock that someone else took after the dump fails the restore clearly,
// with nothing of the tree left alive; released, the restore works.
TEST_F(Ipc, ConflictingLockFailsTheRestore) {
  pid_t pid;
  std::vector<pid_t> tree;
  ASSERT_NO_FATAL_FAILURE(spawnAndDumpKilled(programCase("locks"), &pid, &tree));
  int fd = open((h.workDir() + "/posix").c_str(), O_RDWR | O_CLOEXEC);
  ASSERT_GE(fd, 0) << strerror(errno);
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = 50;
  fl.l_len = 10;
  ASSERT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0) << strerror(errno);
  auto r = h.runCkpt({"restore", h.imageDir(), "--detach"});
  expectFailed(r, {"pid " + std::to_string(pid), "posix write lock on bytes 0-99", "conflicting"});
  EXPECT_TRUE(h.reapAll(Seconds(5))) << "a failed restore left processes";
  for (pid_t p : tree) EXPECT_FALSE(pidExists(p)) << "a failed restore left pid " << p;
  close(fd);
  ASSERT_NO_FATAL_FAILURE(restoreAndPass(pid));
}

}  // namespace
}  // namespace ckpt::test
