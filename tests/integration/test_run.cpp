// `ckpt run` in a real terminal (a tmux pane as the user's terminal): output,
// input, exit status, the user's modes, window size changes, daemons kept in
// the tree, the pid file, and its checkpoint hook driven as ckpt would.
#include <gtest/gtest.h>

#include <fcntl.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "Terminal.hpp"
#include "core/hooks/HookClient.hpp"
#include "tty/model/TerminalModel.hpp"

namespace ckpt::test {
namespace {

using Json = nlohmann::json;

// Single quotes for /bin/sh.
std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Two captures (capture-pane -e) show the same cells: text, colours and
// attributes. The escapes of a capture depend on how the screen was drawn,
// so both are drawn into a model and compared cell by cell.
void expectSameCells(const std::string& want, const std::string& got, int rows, int cols) {
  auto draw = [&](const std::string& capture) {
    auto m = std::make_unique<tty::TerminalModel>(rows, cols);
    std::string text;
    for (char c : capture) text += c == '\n' ? std::string("\033[0m\r\n") : std::string(1, c);
    m->feed(text);
    return m;
  };
  auto w = draw(want), g = draw(got);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      tty::Cell a = w->cell(r, c), b = g->cell(r, c);
      EXPECT_TRUE(a.chars == b.chars && a.style == b.style)
          << "cell " << r << "," << c << " differs:\n"
          << want << "\n---\n"
          << got;
      if (::testing::Test::HasFailure()) return;
    }
}

class RunTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      std::cerr << h.report();
      if (tmux) std::cerr << "pane:\n" << tmux->capture("main", false) << "\n";
    }
  }

  // A pane of cols x rows whose shell notes its modes, runs `ckpt run`
  // with the pid file and `inner` (a /bin/sh script), then prints ckpt's
  // status and notes its modes again.
  void start(const std::string& inner, int cols = 80, int rows = 24) {
    const std::string d = h.dir();
    std::string pane = "stty -g > " + d + "/modes.before; " + ckptBinary() + " run --pidfile " +
                       pidFile() + " -- sh -c " + quote(inner) +
                       "; echo ckpt-status=$?; stty -g > " + d +
                       "/modes.after; echo modes-noted; exec cat";
    tmux = std::make_unique<TmuxServer>(h, d + "/tmux.sock", "main", cols, rows, pane);
  }

  std::string pidFile() const { return h.dir() + "/run.pid"; }

  // The pid of `ckpt run`, from its pid file once it is written.
  pid_t runPid() {
    pid_t pid = -1;
    EXPECT_TRUE(waitUntil([&] {
      std::string s = readFile(pidFile());
      if (s.empty() || s.back() != '\n') return false;
      pid = std::stoi(s);
      return true;
    })) << "no pid file";
    return pid;
  }

  // Resizes the pane and waits until its terminal has the size (tmux may
  // defer the change a little).
  void resize(int cols, int rows) {
    tmux->resize("main", cols, rows);
    const std::string want = std::to_string(rows) + " " + std::to_string(cols) + "\n";
    ASSERT_TRUE(waitUntil([&] {
      return h.run({"stty", "-F", tmux->paneTty("main"), "size"}).out == want;
    })) << "the pane did not get the size "
        << want;
  }

  bool waitFor(const std::string& text) { return tmux->waitForText("main", text); }

  // `ckpt dump --kill` of ckpt run's tree (its hook names the user's
  // terminal, so no --shell-job is needed); waits until every
  // process of it is gone (the pane's shell reaps ckpt run; the others,
  // orphaned, come to this test process, the subreaper above tmux).
  void dumpKilled(pid_t run) {
    auto tree = Harness::treePids(run);
    auto r = h.runCkpt({"dump", std::to_string(run), "-o", h.imageDir(), "--kill"});
    ASSERT_TRUE(r.status.ok()) << r.describe();
    ASSERT_TRUE(waitFor("ckpt-status=137"));
    for (pid_t p : tree)
      if (p != run) h.waitExit(p, Seconds(10));
    for (pid_t p : tree) ASSERT_TRUE(waitUntil([&] { return !pidExists(p); })) << "pid " << p;
  }

  // Dumps ckpt run's tree (--shell-job --kill), restores it with
  // --shell-job in a new terminal of cols x rows (a session of its own),
  // and expects there, once `shown` appears, the cells the pane had (unless
  // !sameCells: a program that redraws for the new size changes them).
  // Returns the new terminal's target.
  std::string moveToNewTerminal(int cols, int rows, const std::string& shown,
                                bool sameCells = true) {
    const std::string before = tmux->capture("main");
    dumpKilled(runPid());
    if (::testing::Test::HasFatalFailure()) return "";
    tmux->tmux({"new-session", "-d", "-s", "restored", "-x", std::to_string(cols), "-y",
                std::to_string(rows),
                ckptBinary() + " restore --shell-job " + h.imageDir() +
                    "; echo restore-status=$?; exec cat"});
    EXPECT_TRUE(tmux->waitForText("restored", shown)) << tmux->capture("restored");
    if (sameCells) expectSameCells(before, tmux->capture("restored"), rows, cols);
    return "restored";
  }

  // vim on `file` with a line typed and three characters selected.
  void startVimWithSelection(const std::string& file) {
    start("echo before-vim; exec vim -u NONE -i NONE -N -n " + file);
    ASSERT_TRUE(waitFor("notes.txt"));
    tmux->sendText("main", "iunsaved line");
    tmux->sendKeys("main", {"Escape"});
    tmux->sendText("main", "0vll");
    ASSERT_TRUE(waitFor("-- VISUAL --"));
  }

  // Sends `event` (JSON) to ckpt run's hook as ckpt would; returns the reply.
  Json hookEvent(pid_t run, const std::string& event) {
    auto deadline = hooks::Clock::now() + std::chrono::seconds(10);
    auto c = hooks::HookClient::connect("ckpt-hook:run:" + std::to_string(run), deadline);
    c.send(event, deadline);
    return Json::parse(c.receive(deadline));
  }

  // What `ckpt restore --shell-job` leaves ckpt run: a terminal (here the
  // same pane, made blank, both screens, and cols x rows) and the
  // `restarted` event. `gone`: texts that must have left the pane first.
  void restartInBlankPane(pid_t run, int cols, int rows, const std::vector<std::string>& gone) {
    ASSERT_NO_FATAL_FAILURE(resize(cols, rows));
    std::ofstream(tmux->paneTty("main")) << "\033[?1049l\033[H\033[2J" << std::flush;
    tmux->tmux({"send-keys", "-R", "-t", "main"});
    tmux->tmux({"clear-history", "-t", "main"});
    ASSERT_TRUE(waitUntil([&] {
      std::string shown = tmux->capture("main", false);
      for (const auto& g : gone)
        if (shown.find(g) != std::string::npos) return false;
      return true;
    })) << tmux->capture("main", false);
    Json reply =
        hookEvent(run, R"({"event":"restarted","options":{"shell-job":"1","TERM":"screen"}})");
    EXPECT_EQ(reply["ok"], true) << reply;
  }

  Harness h;
  std::unique_ptr<TmuxServer> tmux;
};

pid_t parentOf(pid_t pid) {
  std::string stat = readFile("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  int ppid = -1;
  char state;
  std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid);
  return ppid;
}

TEST_F(RunTest, ShowsOutputTakesInputExitsWithStatusAndPutsModesBack) {
  start("printf '\\033[1;31mbold red\\033[0m\\n'; stty size; tty; read x; echo got:$x; exit 7");
  ASSERT_TRUE(waitFor("24 80"));
  pid_t run = runPid();
  ASSERT_GT(run, 0);
  EXPECT_NE(readFile("/proc/" + std::to_string(run) + "/cmdline").find("run"), std::string::npos);
  EXPECT_NE(tmux->capture("main").find("\033[1m\033[31mbold red"), std::string::npos)
      << tmux->capture("main");
  // Its fds 0-2 are not close-on-exec, also as /proc shows them to a dump.
  std::string kids =
      readFile("/proc/" + std::to_string(run) + "/task/" + std::to_string(run) + "/children");
  ASSERT_FALSE(kids.empty());
  for (int fd = 0; fd <= 2; ++fd) {
    std::string info =
        readFile("/proc/" + std::to_string(std::stoi(kids)) + "/fdinfo/" + std::to_string(fd));
    auto at = info.find("flags:\t");
    ASSERT_NE(at, std::string::npos) << info;
    EXPECT_EQ(std::stoul(info.substr(at + 7), nullptr, 8) & O_CLOEXEC, 0u) << "fd " << fd << info;
  }
  // The program runs on a terminal of its own, not the pane's.
  EXPECT_EQ(tmux->capture("main", false).find(tmux->paneTty("main")), std::string::npos);
  // The user's terminal is raw while ckpt run runs.
  std::string raw = h.run({"stty", "-a", "-F", tmux->paneTty("main")}).out;
  EXPECT_NE(raw.find("-icanon"), std::string::npos) << raw;
  EXPECT_NE(raw.find("-echo "), std::string::npos) << raw;

  tmux->sendText("main", "abc");
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("got:abc"));
  ASSERT_TRUE(waitFor("ckpt-status=7"));
  ASSERT_TRUE(waitFor("modes-noted"));
  EXPECT_EQ(readFile(h.dir() + "/modes.before"), readFile(h.dir() + "/modes.after"));
  EXPECT_FALSE(std::filesystem::exists(pidFile())) << "the pid file outlives ckpt run";
}

TEST_F(RunTest, ResizingTheUsersTerminalResizesTheProgramsTerminal) {
  start("stty size; read x; stty size; read y; stty size; read z");
  ASSERT_TRUE(waitFor("24 80"));
  ASSERT_NO_FATAL_FAILURE(resize(100, 30));
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("30 100"));
  ASSERT_NO_FATAL_FAILURE(resize(60, 20));
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("20 60"));
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
}

TEST_F(RunTest, ADaemonOfTheCommandStaysInItsTree) {
  // The daemon's parent exits at once: it is orphaned, and the nearest
  // subreaper, ckpt run, takes it.
  const std::string daemonPid = h.dir() + "/daemon.pid";
  start("(setsid sh -c 'echo $$ > " + daemonPid +
        "; exec sleep 1000' </dev/null >/dev/null 2>&1 &); echo started; read x");
  ASSERT_TRUE(waitFor("started"));
  pid_t run = runPid();
  pid_t daemon = -1;
  ASSERT_TRUE(waitUntil([&] {
    std::string s = readFile(daemonPid);
    if (s.empty() || s.back() != '\n') return false;
    daemon = std::stoi(s);
    return parentOf(daemon) == run;
  })) << "daemon "
      << daemon << " has parent " << parentOf(daemon) << ", ckpt run is " << run;
  auto tree = Harness::treePids(run);
  EXPECT_NE(std::find(tree.begin(), tree.end(), daemon), tree.end());
  // It holds no terminal: ckpt run ends with the command.
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
  kill(daemon, SIGKILL);
}

TEST_F(RunTest, AnswersPreDumpAndRepaintsWhenRestarted) {
  start(
      "printf '\\033[2J\\033[H\\033[1mtitle\\033[0m\\n\\033[32mgreen\\033[0m "
      "\\033[7mreversed\\033[0m\\n"
      "\\033[10;20Hmiddle\\033[4;1H'; trap '' WINCH; read x; stty size; read y");
  ASSERT_TRUE(waitFor("middle"));
  pid_t run = runPid();
  const std::string before = tmux->capture("main");

  {
    auto deadline = hooks::Clock::now() + std::chrono::seconds(10);
    auto c = hooks::HookClient::connect("ckpt-hook:run:" + std::to_string(run), deadline);
    c.send(R"({"event":"pre-dump","image":"/nonexistent","kill":false})", deadline);
    Json reply = Json::parse(c.receive(deadline));
    EXPECT_EQ(reply["ok"], true) << reply;
    EXPECT_EQ(reply["external"], Json::array({0, 1, 2})) << reply;
    c.send(R"({"event":"resumed"})", deadline);
  }
  ASSERT_NO_FATAL_FAILURE(restartInBlankPane(run, 70, 20, {"middle"}));
  ASSERT_TRUE(waitFor("middle"));
  expectSameCells(before, tmux->capture("main"), 20, 70);
  // The program (which ignores SIGWINCH) has the new size, and the user's
  // terminal is raw again.
  std::string raw = h.run({"stty", "-a", "-F", tmux->paneTty("main")}).out;
  EXPECT_NE(raw.find("-icanon"), std::string::npos) << raw;
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("20 70"));
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
}

TEST_F(RunTest, HookGivesTheTerminalBackBeforeAKillAndTakesItAgainAfterAFailedDump) {
  start("printf '\\033[?1049h\\033[?1000hfull screen'; read x");
  ASSERT_TRUE(waitFor("full screen"));
  pid_t run = runPid();
  auto paneModes = [&] { return h.run({"stty", "-a", "-F", tmux->paneTty("main")}).out; };
  auto altAndMouse = [&] {
    return tmux->tmux({"display-message", "-p", "-t", "main", "#{alternate_on}#{mouse_any_flag}"});
  };
  ASSERT_NE(paneModes().find("-icanon"), std::string::npos);
  ASSERT_EQ(altAndMouse(), "11\n");
  {
    auto deadline = hooks::Clock::now() + std::chrono::seconds(10);
    auto c = hooks::HookClient::connect("ckpt-hook:run:" + std::to_string(run), deadline);
    c.send(R"({"event":"pre-dump","image":"/nonexistent","kill":true})", deadline);
    Json reply = Json::parse(c.receive(deadline));
    EXPECT_EQ(reply["ok"], true) << reply;
    // The user's modes and a terminal a shell can use, before the kill.
    EXPECT_EQ(readFile(h.dir() + "/modes.before"),
              h.run({"stty", "-g", "-F", tmux->paneTty("main")}).out);
    EXPECT_EQ(altAndMouse(), "00\n");
    c.send(R"({"event":"resumed","dump_failed":true,"error":"test"})", deadline);
  }
  // No reply to `resumed`: the next event's answer shows it was handled.
  Json reply = hookEvent(run, R"({"event":"restarted","options":{}})");
  EXPECT_EQ(reply["ok"], true) << reply;  // without shell-job: nothing to paint into
  EXPECT_NE(paneModes().find("-icanon"), std::string::npos)
      << "not raw again after the dump failed";
  reply = hookEvent(run,
                    R"({"event":"restarted","options":{"shell-job":"1","TERM":"no-such-term-x"}})");
  EXPECT_EQ(reply["ok"], false) << reply;
  EXPECT_NE(reply.value("error", "").find("no-such-term-x"), std::string::npos) << reply;
  EXPECT_NE(reply.value("error", "").find("painted as screen"), std::string::npos) << reply;
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
}

TEST_F(RunTest, VimOnTheAlternateScreenComesBackFromTheModel) {
  // The same size: vim gets no SIGWINCH and redraws nothing itself.
  ASSERT_NO_FATAL_FAILURE(startVimWithSelection(h.dir() + "/notes.txt"));
  const std::string before = tmux->capture("main");
  ASSERT_NO_FATAL_FAILURE(restartInBlankPane(runPid(), 80, 24, {"unsaved line", "before-vim"}));
  ASSERT_TRUE(waitFor("unsaved line"));
  expectSameCells(before, tmux->capture("main"), 24, 80);
  // Leaving vim shows the screen that was there before it, kept by the model.
  tmux->sendKeys("main", {"Escape"});
  tmux->sendText("main", ":q!");
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
  EXPECT_NE(tmux->capture("main", false).find("before-vim"), std::string::npos);
}

TEST_F(RunTest, ScreensServerStaysInTheTreeUntilItsFrontEndDetaches) {
  const std::string conf = h.dir() + "/screenrc",
                    name = "ckpt-run-test-" + std::to_string(getpid());
  std::ofstream(conf) << "startup_message off\n";
  start("PS1='in-screen$ ' exec screen -c " + conf + " -S " + name + " sh");
  ASSERT_TRUE(waitFor("in-screen$"));
  pid_t run = runPid();
  // screen's server: a process of another session, below ckpt run.
  auto tree = Harness::treePids(run);
  pid_t server = -1;
  for (pid_t p : tree)
    if (readFile("/proc/" + std::to_string(p) + "/cmdline").rfind("SCREEN", 0) == 0) server = p;
  ASSERT_GT(server, 0) << "no screen server in the tree of ckpt run " << run;
  // Detached, the server lets the terminal go and ckpt run ends with the
  // front end; the session lives on.
  tmux->sendKeys("main", {"C-a", "d"});
  ASSERT_TRUE(waitFor("ckpt-status=0"));
  EXPECT_TRUE(pidExists(server));
  h.run({"screen", "-S", name, "-X", "quit"});
}

TEST_F(RunTest, CtrlCReachesAProgramThatNeverStopsWriting) {
  start("trap 'echo interrupted; exit 9' INT; while :; do echo spam spam spam; done");
  ASSERT_TRUE(waitFor("spam"));
  tmux->sendKeys("main", {"C-c"});
  ASSERT_TRUE(waitFor("ckpt-status=9"));
  EXPECT_NE(tmux->capture("main", false).find("interrupted"), std::string::npos);
}

TEST_F(RunTest, VimDumpedWithKillComesBackExactlyInAnotherTerminal) {
  const std::string file = h.dir() + "/notes.txt";
  ASSERT_NO_FATAL_FAILURE(startVimWithSelection(file));
  // The same size: vim gets no SIGWINCH; the screen is the model's.
  std::string pane = moveToNewTerminal(80, 24, "-- VISUAL --");
  ASSERT_FALSE(HasFailure());
  // vim runs on: its edits are there, keys reach it, and `ckpt restore`
  // ends with ckpt run, which ends with vim.
  tmux->sendKeys(pane, {"Escape"});
  tmux->sendText(pane, ":wq");
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "restore-status=0")) << tmux->capture(pane);
  EXPECT_EQ(readFile(file), "unsaved line\n");
}

TEST_F(RunTest, AProgramIgnoringSigwinchComesBackFromTheModelInABiggerTerminal) {
  start(
      "printf '\\033[1;33mkept \\033[44mby the model\\033[0m\\n\\033[7;30Hplaced'; "
      "trap '' WINCH; read x; stty size; read y");
  ASSERT_TRUE(waitFor("placed"));
  std::string pane = moveToNewTerminal(100, 30, "placed");
  ASSERT_FALSE(HasFailure());
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "30 100")) << tmux->capture(pane);
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "restore-status=0")) << tmux->capture(pane);
}

TEST_F(RunTest, LessRestoredIntoABiggerTerminalTakesItsSize) {
  const std::string lines = h.dir() + "/lines.txt";
  {
    std::ofstream f(lines);
    for (int i = 1; i <= 100; ++i) f << "line " << i << "\n";
  }
  start("less " + lines);
  ASSERT_TRUE(waitFor("line 23"));
  // Bigger: less shows six more lines of the file.
  std::string pane = moveToNewTerminal(100, 30, "line 23", false);
  ASSERT_FALSE(HasFailure());
  ASSERT_TRUE(tmux->waitForText(pane, "line 29")) << tmux->capture(pane);
  tmux->sendText(pane, "q");
  ASSERT_TRUE(tmux->waitForText(pane, "restore-status=0")) << tmux->capture(pane);
}

TEST_F(RunTest, VimRestoredIntoASmallerTerminalTakesItsSize) {
  ASSERT_NO_FATAL_FAILURE(startVimWithSelection(h.dir() + "/notes.txt"));
  std::string pane = moveToNewTerminal(60, 16, "-- VISUAL --", false);
  ASSERT_FALSE(HasFailure());
  tmux->sendKeys(pane, {"Escape"});
  tmux->sendText(pane, ":call setline(1, 'size ' . &columns . 'x' . &lines)");
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "size 60x16")) << tmux->capture(pane);
  tmux->sendText(pane, ":q!");
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "restore-status=0")) << tmux->capture(pane);
}

TEST_F(RunTest, ScreenWithAHardstatusLineComesBackExactlyAndScrollsAboveIt) {
  // What DMTCP gets wrong: screen in a 100x30 terminal with a caption and a
  // hardstatus line, dumped with --kill and restored in a fresh 100x30 one.
  const std::string conf = h.dir() + "/screenrc", name = "ckpt-run-hs-" + std::to_string(getpid());
  std::ofstream(conf) << "startup_message off\n"
                         "hardstatus alwayslastline \"%{= kw}HARDSTATUS %n\"\n"
                         "caption always \"%{= kg}CAPTION %t\"\n";
  start("PS1='in-screen$ ' exec screen -c " + conf + " -S " + name + " sh", 100, 30);
  ASSERT_TRUE(waitFor("HARDSTATUS"));
  tmux->sendText("main", "seq 1 50");
  tmux->sendKeys("main", {"Enter"});
  ASSERT_TRUE(waitFor("50\nin-screen$"));
  std::string pane = moveToNewTerminal(100, 30, "HARDSTATUS");
  ASSERT_FALSE(HasFailure());
  // 200 lines printed after the restore scroll above the two status lines.
  tmux->sendText(pane, "seq 1000 1200");
  tmux->sendKeys(pane, {"Enter"});
  ASSERT_TRUE(tmux->waitForText(pane, "1200\nin-screen$")) << tmux->capture(pane);
  std::string shown = tmux->capture(pane, false);
  EXPECT_NE(shown.find("1200\nin-screen$\nCAPTION sh\nHARDSTATUS 0"), std::string::npos) << shown;
  h.run({"screen", "-S", name, "-X", "quit"});
  ASSERT_TRUE(tmux->waitForText(pane, "restore-status=0")) << tmux->capture(pane);
}

TEST_F(RunTest, RefusesACommandThatCannotRun) {
  auto r = h.runCkpt({"run", "--", "/nonexistent/program"});
  EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
  EXPECT_NE(r.err.find("cannot run '/nonexistent/program'"), std::string::npos) << r.err;
}

TEST_F(RunTest, WorksWithoutATerminal) {
  // stdin /dev/null, stdout a pipe: a 24x80 terminal, and EOF reaches the program.
  auto r = h.runCkpt({"run", "--", "sh", "-c", "stty size; cat; echo after-eof; exit 3"});
  EXPECT_TRUE(r.status.exitedWith(3)) << r.describe();
  EXPECT_NE(r.out.find("24 80"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after-eof"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace ckpt::test
