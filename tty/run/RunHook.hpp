// `ckpt run`'s part in a checkpoint of its tree: the hook `run:<pid>`
// (core/hooks/PROTOCOL.md), served poll style from the run loop.
#pragma once

#include <string>
#include <vector>

struct ckpt_hook;

namespace ckpt::tty {

class RunHookHandler {
 public:
  virtual ~RunHookHandler() = default;
  // Returns the fds to leave out of the dump. Throws Error to refuse it.
  virtual std::vector<int> onPreDump(bool kill) = 0;
  virtual void onResumed(bool failed) = 0;
  // Throws Error when the restart could not be completed.
  virtual void onRestarted(const char* optionsJson) = 0;
};

class RunHook {
 public:
  // Listens on "ckpt-hook:run:<pid>"; throws Error when that fails.
  RunHook(pid_t pid, RunHookHandler& handler);
  ~RunHook();
  RunHook(const RunHook&) = delete;
  RunHook& operator=(const RunHook&) = delete;

  static std::string nameFor(pid_t pid);
  int fd() const;   // polls readable when dispatch() has work
  void dispatch();  // runs the handler's callbacks; never blocks

 private:
  ckpt_hook* hook_;
};

}  // namespace ckpt::tty
