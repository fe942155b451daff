// core/hooks/: /proc/net/unix parsing and ckpt's messages (pure), then the C
// client library (ckpt_hook.h) served in this process and driven by ckpt's
// own HookClient, so both ends of the protocol are checked against each other.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ckpt_hook.h"
#include "core/hooks/HookClient.hpp"
#include "core/hooks/HookDiscovery.hpp"
#include "core/hooks/HookMessages.hpp"
#include "core/util/Error.hpp"

namespace ckpt::hooks {
namespace {

using Json = nlohmann::json;

// ------------------------------------------------------------ /proc/net/unix

// Captured from a 6.1 kernel, plus a name with a space and a broken line.
constexpr const char* kProcNetUnix =
    "Num       RefCount Protocol Flags    Type St Inode Path\n"
    "000000002273285f: 00000003 00000000 00000000 0001 03 278470 /tmp/ut/sc/a.sock\n"
    "00000000cce29add: 00000003 00000000 00000000 0001 03 278469\n"
    "000000009a6e67da: 00000002 00000000 00010000 0005 01 273604 @ckpt-hook:hooked-28143\n"
    "00000000ad305687: 00000003 00000000 00000000 0005 03 273610 @ckpt-hook:hooked-28143\n"
    "0000000000000000: 00000002 00000000 00010000 0001 01 17 /run/with space.sock\n"
    "garbage\n"
    "0000000000000000: 00000002 00000000 00010000 0005 01 18 @ckpt-hookless\n";

TEST(HookDiscovery, ParsesProcNetUnix) {
  auto e = parseProcNetUnix(kProcNetUnix);
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].ino, 278470u);
  EXPECT_EQ(e[0].type, SOCK_STREAM);
  EXPECT_EQ(e[0].state, 3);
  EXPECT_FALSE(e[0].listening);
  EXPECT_EQ(e[0].name, "/tmp/ut/sc/a.sock");
  EXPECT_EQ(e[1].name, std::nullopt);
  EXPECT_TRUE(e[2].listening);
  EXPECT_EQ(e[2].type, SOCK_SEQPACKET);
  EXPECT_EQ(e[2].name, "@ckpt-hook:hooked-28143");
  EXPECT_FALSE(e[3].listening);
  EXPECT_EQ(e[4].name, "/run/with space.sock");
}

TEST(HookDiscovery, HookNames) {
  EXPECT_EQ(hookNameOf("@ckpt-hook:x"), "ckpt-hook:x");
  EXPECT_EQ(hookNameOf("@ckpt-hook:"), "ckpt-hook:");
  EXPECT_EQ(hookNameOf("@ckpt-hookless"), "");
  EXPECT_EQ(hookNameOf("/tmp/ckpt-hook:x"), "");  // a path, not an abstract name
  EXPECT_EQ(hookNameOf("ckpt-hook:x"), "");
  EXPECT_EQ(hookNameOf(std::nullopt), "");
}

TEST(HookDiscovery, FindsNothingInATreeWithoutHooks) {
  auto found = findHookSockets(getpid());
  EXPECT_TRUE(found.listening.empty());
}

// ------------------------------------------------------------ messages

TEST(HookMessages, Events) {
  EXPECT_EQ(Json::parse(preDumpMessage("/img", true)),
            Json({{"event", "pre-dump"}, {"image", "/img"}, {"kill", true}}));
  EXPECT_EQ(Json::parse(resumedMessage()), Json({{"event", "resumed"}}));
  EXPECT_EQ(Json::parse(dumpFailedMessage("pid 1: \"x\"")),
            Json({{"event", "resumed"}, {"dump_failed", true}, {"error", "pid 1: \"x\""}}));
  EXPECT_EQ(Json::parse(restartedMessage({{"display", ":2"}})),
            Json({{"event", "restarted"}, {"options", {{"display", ":2"}}}}));
  EXPECT_EQ(Json::parse(restartedMessage({}))["options"], Json::object());
  // A path that is not UTF-8 still makes a message.
  EXPECT_NO_THROW(Json::parse(preDumpMessage("/img\xff", false)));
}

TEST(HookMessages, Replies) {
  Reply r = parseReply(R"({"ok":true,"external":[3,17]})");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.external, (std::vector<int>{3, 17}));
  EXPECT_TRUE(parseReply(R"({"ok":true})").external.empty());
  r = parseReply(R"({"ok":false,"error":"busy","future":1})");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "busy");
  EXPECT_EQ(parseReply(R"({"ok":false})").error, "no reason given");
}

TEST(HookMessages, BadReplies) {
  auto errorOf = [](std::string_view text) -> std::string {
    try {
      parseReply(text);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(errorOf("ok").find("not JSON"), std::string::npos);
  EXPECT_NE(errorOf("[1]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(errorOf(R"({"ok":1})").find("\"ok\""), std::string::npos);
  EXPECT_NE(errorOf(R"({"ok":true,"external":3})").find("not an array"), std::string::npos);
  EXPECT_NE(errorOf(R"({"ok":true,"external":[-1]})").find("not an fd"), std::string::npos);
  EXPECT_NE(errorOf(R"({"ok":true,"external":["3"]})").find("not an fd"), std::string::npos);
}

// ------------------------------------------------------------ the C library

TEST(HookOptions, Lookup) {
  const char* o = R"({"a":1,"display":":2","nested":{"display":"no"},"q":"say \"hi\"\n\u00e9"})";
  char buf[64];
  EXPECT_EQ(ckpt_hook_option(o, "display", buf, sizeof buf), 2);
  EXPECT_STREQ(buf, ":2");
  EXPECT_EQ(ckpt_hook_option(o, "q", buf, sizeof buf), 11);
  EXPECT_STREQ(buf, "say \"hi\"\n\xc3\xa9");
  EXPECT_EQ(ckpt_hook_option(o, "a", buf, sizeof buf), -1);        // not a string
  EXPECT_EQ(ckpt_hook_option(o, "missing", buf, sizeof buf), -1);  // absent
  EXPECT_EQ(ckpt_hook_option(o, "display", buf, 2), -1);           // does not fit
  EXPECT_EQ(ckpt_hook_option("{", "display", buf, sizeof buf), -1);
}

// What the callbacks saw, and what they are told to do.
struct Recorder {
  std::mutex m;
  std::condition_variable cv;
  std::vector<std::string> events;
  std::string image, error, options;
  int kill = -1;
  bool refuse = false, failRestart = false;
  std::vector<int> external;

  void add(const std::string& e) {
    std::lock_guard lk(m);
    events.push_back(e);
    cv.notify_all();
  }
  bool waitFor(size_t n) {
    std::unique_lock lk(m);
    return cv.wait_for(lk, std::chrono::seconds(10), [&] { return events.size() >= n; });
  }
};

int preDump(const char* image, int kill, int* ext, int max, char* error, size_t size, void* user) {
  auto* r = static_cast<Recorder*>(user);
  r->image = image;
  r->kill = kill;
  r->add("pre-dump");
  if (r->refuse) {
    snprintf(error, size, "not now: \"busy\" \xff");
    return -1;
  }
  int n = 0;
  for (int fd : r->external)
    if (n < max) ext[n++] = fd;
  return n;
}
void resumed(int failed, const char* error, void* user) {
  auto* r = static_cast<Recorder*>(user);
  r->error = error ? error : "";
  r->add(failed ? "resumed-failed" : "resumed");
}
int restarted(const char* options, char* error, size_t size, void* user) {
  auto* r = static_cast<Recorder*>(user);
  r->options = options;
  r->add("restarted");
  if (r->failRestart) {
    snprintf(error, size, "cannot reach the server");
    return -1;
  }
  return 0;
}
const ckpt_hook_callbacks kCallbacks = {preDump, resumed, restarted};

class HookLibrary : public ::testing::Test {
 protected:
  // A fresh hook served by the library's thread; its socket name.
  std::string start() {
    static int n = 0;
    std::string name = "unit-" + std::to_string(getpid()) + "-" + std::to_string(++n);
    EXPECT_EQ(ckpt_hook_start(name.c_str(), &kCallbacks, &rec), 0) << strerror(errno);
    return "ckpt-hook:" + name;
  }
  static Clock::time_point soon() { return Clock::now() + std::chrono::seconds(10); }
  Reply ask(HookClient& c, const std::string& message) {
    c.send(message, soon());
    return parseReply(c.receive(soon()));
  }

  Recorder rec;
};

TEST_F(HookLibrary, PreDumpThenResumed) {
  auto name = start();
  rec.external = {5, 9};
  auto c = HookClient::connect(name, soon());
  EXPECT_EQ(c.peerPid(), getpid());
  Reply r = ask(c, preDumpMessage("/some/img", false));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.external, (std::vector<int>{5, 9}));
  EXPECT_EQ(rec.image, "/some/img");
  EXPECT_EQ(rec.kill, 0);
  c.send(resumedMessage(), soon());
  ASSERT_TRUE(rec.waitFor(2));
  EXPECT_EQ(rec.events, (std::vector<std::string>{"pre-dump", "resumed"}));
}

// Another user may not drive a program's hook: the library hangs up on it
// without a word, and still serves ckpt of the same user afterwards.
TEST_F(HookLibrary, RefusesPeersOfAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become another user";
  auto name = start();
  pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    try {
      auto c = HookClient::connect(name, soon());
      c.send(preDumpMessage("/some/img", false), soon());
      c.receive(soon());
      _exit(1);  // answered: the hook served another user
    } catch (const Error&) {
      _exit(0);  // hung up on
    }
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  EXPECT_TRUE(rec.events.empty()) << "the hook ran a callback for another user";
  auto c = HookClient::connect(name, soon());
  Reply r = ask(c, preDumpMessage("/some/img", false));
  EXPECT_TRUE(r.ok) << r.error;
}

TEST_F(HookLibrary, RefusalCarriesTheReasonAndNoResumedFollows) {
  auto name = start();
  rec.refuse = true;
  auto c = HookClient::connect(name, soon());
  Reply r = ask(c, preDumpMessage("/img", true));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "not now: \"busy\" ?");  // not UTF-8: replaced, still JSON
  c.send(dumpFailedMessage("refused"), soon());
  // The program did not quiesce: it hears of nothing more. A restarted
  // afterwards shows the library read (and dropped) the resumed before it.
  EXPECT_TRUE(ask(c, restartedMessage({})).ok);
  EXPECT_EQ(rec.events, (std::vector<std::string>{"pre-dump", "restarted"}));
}

TEST_F(HookLibrary, DumpFailedCarriesTheError) {
  auto name = start();
  auto c = HookClient::connect(name, soon());
  EXPECT_TRUE(ask(c, preDumpMessage("/img", false)).ok);
  c.send(dumpFailedMessage("pid 7 fd 3: unsupported"), soon());
  ASSERT_TRUE(rec.waitFor(2));
  EXPECT_EQ(rec.events.back(), "resumed-failed");
  EXPECT_EQ(rec.error, "pid 7 fd 3: unsupported");
}

// ckpt goes away between pre-dump and resumed: the program resumes.
TEST_F(HookLibrary, LostConnectionDuringTheDumpResumes) {
  auto name = start();
  {
    auto c = HookClient::connect(name, soon());
    EXPECT_TRUE(ask(c, preDumpMessage("/img", false)).ok);
  }
  ASSERT_TRUE(rec.waitFor(2));
  EXPECT_EQ(rec.events.back(), "resumed-failed");
  EXPECT_NE(rec.error.find("closed the connection"), std::string::npos) << rec.error;
  // And it serves the next connection.
  auto c = HookClient::connect(name, soon());
  EXPECT_TRUE(ask(c, preDumpMessage("/img", false)).ok);
}

TEST_F(HookLibrary, RestartedWithOptions) {
  auto name = start();
  auto c = HookClient::connect(name, soon());
  EXPECT_TRUE(ask(c, restartedMessage({{"display", ":2"}, {"q", "\"x\""}})).ok);
  char buf[32];
  EXPECT_EQ(ckpt_hook_option(rec.options.c_str(), "display", buf, sizeof buf), 2);
  EXPECT_STREQ(buf, ":2");
  EXPECT_EQ(ckpt_hook_option(rec.options.c_str(), "q", buf, sizeof buf), 3);
  rec.failRestart = true;
  Reply r = ask(c, restartedMessage({}));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "cannot reach the server");
}

TEST_F(HookLibrary, AnswersWhatItCannotRead) {
  auto name = start();
  auto c = HookClient::connect(name, soon());
  Reply r = ask(c, "{\"event\":");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "cannot parse the message");
  r = ask(c, R"({"event":"defrost","extra":[1,{"a":null}]})");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "unknown event \"defrost\"");
  EXPECT_TRUE(rec.events.empty());
}

TEST_F(HookLibrary, NameTakenOrInvalid) {
  std::string name = "unit-taken-" + std::to_string(getpid());
  ASSERT_EQ(ckpt_hook_start(name.c_str(), &kCallbacks, &rec), 0);
  EXPECT_EQ(ckpt_hook_start(name.c_str(), &kCallbacks, &rec), -1);
  EXPECT_EQ(errno, EADDRINUSE);
  EXPECT_EQ(ckpt_hook_open("", &kCallbacks, &rec), nullptr);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(ckpt_hook_start(std::string(200, 'x').c_str(), &kCallbacks, &rec), -1);
  EXPECT_EQ(errno, EINVAL);
}

TEST_F(HookLibrary, NoAnswerTimesOut) {
  // A listener nobody serves.
  std::string name = "ckpt-hook:unit-silent-" + std::to_string(getpid());
  struct ckpt_hook* silent = ckpt_hook_open(name.substr(10).c_str(), &kCallbacks, &rec);
  ASSERT_NE(silent, nullptr);
  auto c = HookClient::connect(name, soon());
  c.send(preDumpMessage("/img", false), soon());
  auto t0 = Clock::now();
  EXPECT_THROW(c.receive(Clock::now() + std::chrono::milliseconds(200)), HookTimeout);
  EXPECT_GE(Clock::now() - t0, std::chrono::milliseconds(190));
  ckpt_hook_close(silent);
  EXPECT_THROW(HookClient::connect(name, soon()), Error);  // gone: refused
}

// Poll style: the test thread is the program's main loop.
TEST_F(HookLibrary, PollStyle) {
  std::string name = "unit-poll-" + std::to_string(getpid());
  struct ckpt_hook* hook = ckpt_hook_open(name.c_str(), &kCallbacks, &rec);
  ASSERT_NE(hook, nullptr);
  const int fd = ckpt_hook_fd(hook);
  auto dispatchUntil = [&](size_t events) {
    for (int i = 0; i < 200 && rec.events.size() < events; i++) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        ASSERT_EQ(ckpt_hook_dispatch(hook), 0);
      }
    }
  };
  auto c = HookClient::connect("ckpt-hook:" + name, soon());
  c.send(preDumpMessage("/img", false), soon());
  dispatchUntil(1);
  EXPECT_TRUE(parseReply(c.receive(soon())).ok);
  c.send(resumedMessage(), soon());
  dispatchUntil(2);
  EXPECT_EQ(rec.events, (std::vector<std::string>{"pre-dump", "resumed"}));
  EXPECT_EQ(ckpt_hook_fd(hook), fd) << "the fd to poll must stay the same";
  // The first connection ends: dispatch handles the EOF and returns (it
  // must not wait in accept for the next one).
  { HookClient gone = std::move(c); }
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  ASSERT_EQ(ckpt_hook_dispatch(hook), 0);
  p.revents = 0;
  EXPECT_EQ(poll(&p, 1, 0), 0) << "nothing more to do until ckpt connects again";
  auto c2 = HookClient::connect("ckpt-hook:" + name, soon());
  c2.send(restartedMessage({{"k", "v"}}), soon());
  dispatchUntil(3);
  EXPECT_TRUE(parseReply(c2.receive(soon())).ok);
  EXPECT_EQ(rec.events.back(), "restarted");
  ckpt_hook_close(hook);
}

}  // namespace
}  // namespace ckpt::hooks
