// C callbacks of the hook library to RunHookHandler; an Error thrown by the
// handler becomes the hook's refusal (its message is what ckpt prints).
#include "tty/run/RunHook.hpp"

#include <sys/types.h>

#include <algorithm>
#include <cstdio>

#include "ckpt_hook.h"
#include "core/util/Error.hpp"

namespace ckpt::tty {
namespace {

RunHookHandler& handler(void* user) {
  return *static_cast<RunHookHandler*>(user);
}

void copyError(const std::exception& e, char* error, size_t size) {
  std::snprintf(error, size, "%s", e.what());
}

int preDump(const char*, int kill, int* external, int max, char* error, size_t errorSize,
            void* user) {
  try {
    std::vector<int> fds = handler(user).onPreDump(kill != 0);
    int n = std::min<int>(int(fds.size()), max);
    std::copy_n(fds.begin(), n, external);
    return n;
  } catch (const std::exception& e) {
    copyError(e, error, errorSize);
    return -1;
  }
}

void resumed(int failed, const char*, void* user) {
  handler(user).onResumed(failed != 0);
}

int restarted(const char* options, char* error, size_t errorSize, void* user) {
  try {
    handler(user).onRestarted(options);
    return 0;
  } catch (const std::exception& e) {
    copyError(e, error, errorSize);
    return -1;
  }
}

const ckpt_hook_callbacks kCallbacks = {preDump, resumed, restarted};

}  // namespace

std::string RunHook::nameFor(pid_t pid) {
  return "run:" + std::to_string(pid);
}

RunHook::RunHook(pid_t pid, RunHookHandler& h)
    : hook_(ckpt_hook_open(nameFor(pid).c_str(), &kCallbacks, &h)) {
  if (!hook_) throwErrno("listening on hook " CKPT_HOOK_PREFIX + nameFor(pid));
}

RunHook::~RunHook() {
  ckpt_hook_close(hook_);
}

int RunHook::fd() const {
  return ckpt_hook_fd(hook_);
}

void RunHook::dispatch() {
  ckpt_hook_dispatch(hook_);
}

}  // namespace ckpt::tty
