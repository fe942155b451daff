// `ckpt dump`: freeze the tree, save it, then let it run or kill it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ckpt {

struct DumpRequest {
  pid_t root = 0;
  std::string dir;
  bool kill = false;
  std::vector<std::pair<pid_t, int>> externals;  // --external PID:FD
  std::chrono::milliseconds hookTimeout{10000};  // --hook-timeout (core/hooks/)
  bool tcpClose = false;   // --tcp-close: TCP connections outside the tree come back closed
  bool shellJob = false;   // --shell-job: the terminal outside the tree is the user's
  bool unixClose = false;  // --unix-close: unix connections outside the tree come back closed
};

struct DumpSummary {
  size_t processes = 0;
  size_t threads = 0;
  uint64_t bytesStored = 0;
  uint64_t zeroPages = 0;
  double freezeMs = 0;  // from the start of the freeze to the resume (or kill)
  double totalMs = 0;
};

DumpSummary dumpTree(const DumpRequest& req);

}  // namespace ckpt
