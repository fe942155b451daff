// The tmux plugin (integrations/tmux): a key pressed in an attached client
// saves the running server; the image restores and a client attaches again.
#include <filesystem>
#include <sstream>

#include "CkptTest.hpp"
#include "Terminal.hpp"

namespace ckpt::test {
namespace {

namespace fs = std::filesystem;

class TmuxPlugin : public CkptTest {};

// The image directories in `dir` that hold a committed image.
std::vector<std::string> imagesIn(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (fs::exists(e.path() / "manifest.json")) out.push_back(e.path().string());
  return out;
}

// Processes (zombies too) whose session id is `sid`.
std::vector<pid_t> sessionMembers(pid_t sid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string stat = readFile("/proc/" + name + "/stat");
    auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    pid_t ppid = 0, pgrp = 0, session = 0;
    rest >> state >> ppid >> pgrp >> session;
    if (session == sid || pgrp == sid) out.push_back(std::stoi(name));
  }
  return out;
}

TEST_F(TmuxPlugin, SaveKeyCheckpointsTheServerWhichRestoresAndReattaches) {
  std::string images = h.dir() + "/images";
  std::string config = "set -g @ckpt-bin " + ckptBinary() + "\nset -g @ckpt-dir " + images +
                       "\nrun-shell " + CKPT_SOURCE_DIR "/integrations/tmux/ckpt.tmux\n";
  TmuxServer inner(h, h.dir() + "/inner.sock", "work", 80, 24,
                   "sh -c 'i=0; while :; do i=$((i+1)); echo \"count $i\"; sleep 0.1; done'",
                   config);
  // The user's terminal outlives the client (which ends with the server).
  TmuxServer user(h, h.dir() + "/user.sock", "user", 80, 24,
                  "sh -c 'env -u TMUX tmux -S " + inner.socket() + " attach -t work; exec cat'");
  ASSERT_TRUE(user.waitForText("user", "count 3")) << user.capture("user");
  pid_t server = inner.serverPid();

  // prefix + C-s, typed into the attached client.
  user.sendKeys("user", {"C-b", "C-s"});
  ASSERT_TRUE(waitUntil([&] { return imagesIn(images).size() == 1; }))
      << "no image in " << images << "\n"
      << user.capture("user");
  // The server was left running, its client attached.
  std::string seen = user.capture("user", false);
  EXPECT_TRUE(waitUntil([&] { return user.capture("user", false) != seen; }))
      << "the counter stopped after the save";
  // The list binding's command, as tmux runs it (TMUX names the server).
  auto list = h.run({"env", "TMUX=" + inner.socket() + ",0,0",
                     std::string(CKPT_SOURCE_DIR) + "/integrations/tmux/ckpt-tmux.sh", "list"});
  EXPECT_NE(list.out.find("terminal"), std::string::npos) << list.describe();

  // The server goes away; the image brings it back, and a client attaches.
  auto tree = Harness::treePids(server);
  inner.tmux({"kill-server"});
  inner.forget();
  for (pid_t p : tree) ASSERT_NE(h.waitExit(p).kind, ExitStatus::TimedOut) << "pid " << p;
  // Also the server's other children (run-shell jobs), reparented to this
  // test when the server went: reaped, so the server's session id is free.
  ASSERT_TRUE(waitUntil([&] {
    auto users = sessionMembers(server);
    for (pid_t p : users) h.waitExit(p, Seconds(1));
    return sessionMembers(server).empty();
  })) << "processes still in the server's session";
  pid_t restored = -1;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(imagesIn(images).front(), server, &restored));
  std::string again = user.newWindow("user", "env -u TMUX tmux -S " + inner.socket() + " attach");
  EXPECT_TRUE(user.waitForText(again, "count")) << user.capture(again);
  std::string now = user.capture(again, false);
  EXPECT_TRUE(waitUntil([&] { return user.capture(again, false) != now; }))
      << "the restored counter does not count";
  inner.tmux({"kill-server"});
  inner.forget();
}

}  // namespace
}  // namespace ckpt::test
