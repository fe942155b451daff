// The proxy's checkpoint hook (see ProxyHook.hpp).
#include "x11proxy/proxy/ProxyHook.hpp"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "ckpt_hook.h"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::x11 {
namespace {

void setError(char* error, size_t size, const std::string& what) {
  std::snprintf(error, size, "%s", what.c_str());
}

std::string option(const char* json, const char* key) {
  char value[4096];
  return ckpt_hook_option(json, key, value, sizeof value) >= 0 ? value : "";
}

}  // namespace

ProxyHook::ProxyHook(std::list<Session>& sessions, ServerAddress& server)
    : sessions_(sessions), server_(server) {
  static const ckpt_hook_callbacks callbacks = {&ProxyHook::preDump, &ProxyHook::resumed,
                                                &ProxyHook::restarted};
  // Abstract names are shared by the whole network namespace: one per proxy.
  std::string name = "x11-proxy:" + std::to_string(::getpid());
  hook_ = ckpt_hook_open(name.c_str(), &callbacks, this);
  if (!hook_) throwErrno("the x11 proxy's checkpoint hook (ckpt-hook:" + name + ")");
}

ProxyHook::~ProxyHook() {
  ckpt_hook_close(hook_);
}

int ProxyHook::fd() const {
  return ckpt_hook_fd(hook_);
}

void ProxyHook::dispatch() {
  ckpt_hook_dispatch(hook_);
}

int ProxyHook::preDump(const char*, int, int* external, int max, char* error, size_t errorSize,
                       void* user) {
  auto* self = static_cast<ProxyHook*>(user);
  int n = 0;
  try {
    for (auto& s : self->sessions_) {
      if (!s.ready()) continue;
      if (n >= max) throw Error("x11: too many connections through the proxy for one dump");
      s.prepareCheckpoint();
      external[n++] = s.serverFd();
    }
  } catch (const Error& e) {
    for (auto& s : self->sessions_) s.forgetCheckpoint();
    setError(error, errorSize, e.what());
    return -1;
  }
  log::info("x11: {} connections ready for the dump", n);
  return n;
}

void ProxyHook::resumed(int, const char*, void* user) {
  for (auto& s : static_cast<ProxyHook*>(user)->sessions_) s.forgetCheckpoint();
}

int ProxyHook::restarted(const char* options, char* error, size_t errorSize, void* user) {
  auto* self = static_cast<ProxyHook*>(user);
  ServerAddress to = self->server_;
  if (std::string d = option(options, "display"); !d.empty()) {
    to.display = d;
    to.xauthority = option(options, "xauthority");
  }
  std::string failures;
  for (auto& s : self->sessions_) {
    if (!s.heldByCheckpoint()) continue;
    try {
      for (const auto& w : s.reattach(to)) log::warn("x11: {}", w);
    } catch (const Error& e) {
      failures += (failures.empty() ? "" : "; ") + std::string(e.what());
    }
  }
  self->server_ = to;
  if (failures.empty()) return 0;
  setError(error, errorSize, failures);
  return -1;
}

}  // namespace ckpt::x11
