// The event loop of `ckpt run`: one thread, one poll over the user's
// terminal, the pty's master, a signalfd and the checkpoint hook. Output of
// the program goes to the user's terminal and into the terminal model;
// the user's input goes to the program.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"
#include "tty/model/TerminalModel.hpp"
#include "tty/model/Terminfo.hpp"
#include "tty/run/OuterTerminal.hpp"
#include "tty/run/PtySpawn.hpp"
#include "tty/run/RunHook.hpp"

namespace ckpt::tty {

// The signals the loop takes through its signalfd; block them before the
// command is started so that none is lost.
sigset_t runLoopSignals();

class RunLoop : private RunHookHandler {
 public:
  // `term`: the outer terminal's TERM at start (used when a restore gives none).
  RunLoop(OuterTerminal& outer, SpawnedPty pty, std::string term);
  ~RunLoop() override;

  // Runs until the command has exited and no process holds the pty any
  // more; returns the command's status (128 + signal when it was killed).
  int run();

 private:
  std::vector<int> onPreDump(bool kill) override;
  void onResumed(bool failed) override;
  void onRestarted(const char* optionsJson) override;

  void readMaster(size_t atMost);  // stops early when nothing more is there
  void readOuter();
  void writeMaster();
  void handleSignals();
  void reapChildren();
  void resizeTo(WindowSize size);
  // Runs `use` with the terminfo entry of the user's terminal, if it has one.
  void withTerminfo(const std::function<void(const Terminfo&)>& use);

  OuterTerminal& outer_;
  UniqueFd master_;
  pid_t child_;
  std::string term_;
  WindowSize size_;
  TerminalModel model_;
  UniqueFd signals_;
  RunHook hook_;
  std::string toMaster_;  // user input the program has not taken yet
  std::vector<char> buffer_;
  bool outerOpen_ = true;   // fd 0 has not reached its end
  bool masterOpen_ = true;  // some process still holds the pty's slave
  bool childExited_ = false;
  bool released_ = false;  // pre-dump gave the user's terminal back (a dump with kill)
  int status_ = 0;
};

}  // namespace ckpt::tty
