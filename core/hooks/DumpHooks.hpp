// A dump's conversation with the programs of the tree that take part in it
// (PROTOCOL.md): pre-dump while the tree still runs, then `resumed` once it
// runs again, or nothing after --kill. Like the freezer, it cannot leave a
// program stuck: unless told how the dump ended, the destructor tells every
// hook that was asked that the dump failed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "core/hooks/HookClient.hpp"
#include "core/image/Model.hpp"

namespace ckpt::hooks {

class DumpHooks {
 public:
  DumpHooks(pid_t root, std::chrono::milliseconds timeout) : root_(root), timeout_(timeout) {}
  DumpHooks(const DumpHooks&) = delete;
  DumpHooks& operator=(const DumpHooks&) = delete;
  ~DumpHooks();

  // Finds the tree's hooks, asks each one to quiesce and waits for every
  // answer. Throws Error naming the pid and the hook when one refuses,
  // fails or does not answer within the timeout.
  void preDump(const std::string& image, bool kill);

  // The hooks asked, for the image.
  std::vector<image::Hook> hooks() const;
  // What the dump treats as --external: the fds the hooks named, and the
  // tree's ends of ckpt's connections to them.
  const std::vector<std::pair<pid_t, int>>& externals() const { return externals_; }

  // The dump is over: `resumed` to each hook, unless the tree was killed.
  void succeeded(bool killed);
  // The dump failed: `resumed` with dump_failed and the error, to each hook asked.
  void failed(const std::string& error);

 private:
  struct Asked {
    image::Hook hook;
    HookClient client;
  };
  void tellAll(const std::string& message);
  std::string who(const image::Hook& h) const;

  pid_t root_;
  std::chrono::milliseconds timeout_;
  std::vector<Asked> asked_;
  std::vector<std::pair<pid_t, int>> externals_;
};

}  // namespace ckpt::hooks
