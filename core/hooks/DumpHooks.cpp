// The dump side of the hooks: discovery, pre-dump, resumed.
#include "core/hooks/DumpHooks.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/hooks/HookDiscovery.hpp"
#include "core/hooks/HookMessages.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::hooks {
namespace {

uint64_t netnsOf(const std::string& pid) {
  struct stat st {};
  if (::stat(fmt::format("/proc/{}/ns/net", pid).c_str(), &st) != 0) return 0;
  return st.st_ino;
}

const char* typeName(int type) {
  switch (type) {
    case SOCK_STREAM:
      return "SOCK_STREAM";
    case SOCK_DGRAM:
      return "SOCK_DGRAM";
    default:
      return "another type";
  }
}

}  // namespace

DumpHooks::~DumpHooks() {
  if (!asked_.empty()) failed("the dump was abandoned");
}

std::string DumpHooks::who(const image::Hook& h) const {
  return fmt::format("pid {} hook {}", h.pid, h.name);
}

void DumpHooks::preDump(const std::string& image, bool kill) {
  auto found = findHookSockets(root_).listening;
  if (found.empty()) return;
  if (netnsOf(std::to_string(root_)) != netnsOf("self"))
    throw Error(
        fmt::format("pid {} hook {}: the tree is in another network namespace than ckpt, "
                    "which cannot reach its hooks",
                    found.front().holders.front().first, found.front().name));
  const auto deadline = Clock::now() + timeout_;
  const std::string message = preDumpMessage(image, kill);
  for (const auto& s : found) {
    image::Hook hook{s.holders.front().first, s.name};
    if (s.type != SOCK_SEQPACKET)
      throw Error(fmt::format("{}: it listens on a {} socket; hooks use SOCK_SEQPACKET", who(hook),
                              typeName(s.type)));
    try {
      HookClient client = HookClient::connect(s.name, deadline);
      // The process that listens serves it (the others inherited the fd).
      for (const auto& [pid, fd] : s.holders)
        if (pid == client.peerPid()) hook.pid = pid;
      client.send(message, deadline);
      asked_.push_back({hook, std::move(client)});
    } catch (const Error& e) {
      throw Error(
          fmt::format("{}: cannot ask it to get ready for the dump: {}", who(hook), e.what()));
    }
  }
  for (auto& a : asked_) {
    Reply r;
    try {
      r = parseReply(a.client.receive(deadline));
    } catch (const HookTimeout&) {
      throw Error(fmt::format("{}: no answer to pre-dump within {} (--hook-timeout)", who(a.hook),
                              describeTimeout(timeout_)));
    } catch (const Error& e) {
      throw Error(fmt::format("{}: {}", who(a.hook), e.what()));
    }
    if (!r.ok) throw Error(fmt::format("{} refused the dump: {}", who(a.hook), r.error));
    for (int fd : r.external) {
      if (::access(fmt::format("/proc/{}/fd/{}", a.hook.pid, fd).c_str(), F_OK) != 0) {
        log::warn("{} named fd {} as external, but it has no fd {}", who(a.hook), fd, fd);
        continue;
      }
      externals_.emplace_back(a.hook.pid, fd);
    }
    log::info(
        "{} is ready for the dump{}", who(a.hook),
        r.external.empty() ? "" : fmt::format(" (external fds: {})", fmt::join(r.external, ", ")));
  }
  // The tree's ends of the connections ckpt holds: accepted from the hook
  // listeners, peers outside the tree. Every one is ckpt's (PROTOCOL.md).
  for (const auto& c : findHookSockets(root_).connections)
    for (const auto& holder : c.holders) externals_.push_back(holder);
  std::sort(externals_.begin(), externals_.end());
  externals_.erase(std::unique(externals_.begin(), externals_.end()), externals_.end());
}

std::vector<image::Hook> DumpHooks::hooks() const {
  std::vector<image::Hook> out;
  for (const auto& a : asked_) out.push_back(a.hook);
  return out;
}

void DumpHooks::tellAll(const std::string& message) {
  const auto deadline = Clock::now() + timeout_;
  for (auto& a : asked_) {
    try {
      a.client.send(message, deadline);
    } catch (const Error& e) {
      log::warn("{}: cannot tell it how the dump ended: {}", who(a.hook), e.what());
    }
  }
  asked_.clear();  // closes the connections
}

void DumpHooks::succeeded(bool killed) {
  if (killed) {
    asked_.clear();
    return;
  }
  tellAll(resumedMessage());
}

void DumpHooks::failed(const std::string& error) {
  tellAll(dumpFailedMessage(error));
}

}  // namespace ckpt::hooks
