// Finds the hook sockets of a running process tree: abstract unix sockets
// named "ckpt-hook:*" (from /proc/ROOT/net/unix), matched by inode to the
// fds of the tree's processes. Reads /proc only: the tree keeps running.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ckpt::hooks {

// One line of /proc/net/unix.
struct UnixSocketEntry {
  uint64_t ino = 0;
  int type = 0;            // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  int state = 0;           // SS_UNCONNECTED 1, SS_CONNECTED 3, ...
  bool listening = false;  // __SO_ACCEPTCON in Flags
  // As the kernel prints it: a path, or '@' and the abstract name (with
  // every NUL byte printed as '@'); nullopt when unbound.
  std::optional<std::string> name;
};

// Lines that do not parse (a name holding a newline) are skipped.
std::vector<UnixSocketEntry> parseProcNetUnix(std::string_view text);

// "ckpt-hook:x" for the printed name "@ckpt-hook:x"; "" when it is not a hook name.
std::string hookNameOf(const std::optional<std::string>& printed);

// A socket with a hook name, and every (pid, fd) of the tree holding it.
struct HookSocket {
  std::string name;  // "ckpt-hook:...", without the leading NUL
  uint64_t ino = 0;
  int type = 0;
  std::vector<std::pair<pid_t, int>> holders;
};

struct TreeHookSockets {
  std::vector<HookSocket> listening;    // the hooks
  std::vector<HookSocket> connections;  // accepted from a hook's listener
};

// The pids of root and every descendant now (/proc/PID/task/*/children).
std::vector<pid_t> liveTreePids(pid_t root);

// The hook sockets the tree of `root` holds now, in tree order.
TreeHookSockets findHookSockets(pid_t root);

}  // namespace ckpt::hooks
