// The messages of the hook protocol (PROTOCOL.md) as ckpt writes and reads
// them: pure functions over strings, so they are unit-tested without sockets.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::hooks {

std::string preDumpMessage(const std::string& image, bool kill);
// After a dump that leaves the tree running.
std::string resumedMessage();
// After a dump that failed, for every hook that was told pre-dump.
std::string dumpFailedMessage(const std::string& error);
std::string restartedMessage(const std::map<std::string, std::string>& options);

// A hook's answer to pre-dump or restarted.
struct Reply {
  bool ok = false;
  std::vector<int> external;  // pre-dump: fds the program re-creates itself
  std::string error;          // when !ok
};

// Throws Error saying what is wrong with the text ("not JSON: ...",
// "\"ok\" is missing", ...); the caller names the hook.
Reply parseReply(std::string_view text);

}  // namespace ckpt::hooks
