// The proxy's part in a checkpoint of its tree (core/hooks/PROTOCOL.md, hook
// "ckpt-hook:x11-proxy:<pid>"). pre-dump: every connection drains, what only the X
// server knows is read into the proxy's memory (so the image holds it), the
// proxy stops reading its clients, and its server connections are named
// external. resumed: it goes on. restarted: it reconnects to the display the
// restore names (option "display", with "xauthority"; default: the one it
// had), replays each connection's state there, and goes on.
#pragma once

#include <list>

#include "x11proxy/proxy/Session.hpp"

struct ckpt_hook;

namespace ckpt::x11 {

class ProxyHook {
 public:
  ProxyHook(std::list<Session>& sessions, ServerAddress& server);
  ~ProxyHook();
  ProxyHook(const ProxyHook&) = delete;
  ProxyHook& operator=(const ProxyHook&) = delete;
  int fd() const;
  void dispatch();

 private:
  static int preDump(const char* image, int kill, int* external, int max, char* error,
                     size_t errorSize, void* user);
  static void resumed(int failed, const char* error, void* user);
  static int restarted(const char* options, char* error, size_t errorSize, void* user);

  std::list<Session>& sessions_;
  ServerAddress& server_;
  ckpt_hook* hook_ = nullptr;
};

}  // namespace ckpt::x11
