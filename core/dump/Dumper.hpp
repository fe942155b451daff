// `ckpt dump`: freeze the tree, save it, then let it run or kill it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
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
  bool tcpClose = false;    // --tcp-close: TCP connections outside the tree come back closed
  bool shellJob = false;    // --shell-job: the terminal outside the tree is the user's
  bool unixClose = false;   // --unix-close: unix connections outside the tree come back closed
  std::string compress;     // --compress zstd[:LEVEL]: page files as zstd frames
  std::string parent;       // --parent DIR: store only the pages that changed since that image
  bool pageHashes = false;  // store page hashes, so that this image can be a parent
  // Called with the complete image while the tree is still frozen (with
  // --kill, before it dies): a stream to stdout is written here, so a
  // failure to send it leaves the program alive.
  std::function<void(const std::string& dir)> beforeRelease;
  // Copy private memory while the tree runs and only what it wrote since
  // while frozen (core/dump/PreCopy.hpp); off, or where it cannot be used
  // (compression, a parent image, page hashes, no userfaultfd), memory is
  // copied frozen or from a copy-on-write snapshot.
  bool preCopy = true;
  // With pre-copy, processes with at most this much private memory are
  // copied frozen instead (PreCopy.hpp says why); 0 pre-copies every one.
  uint64_t preCopyMinBytes = 8ull << 20;
};

struct DumpSummary {
  size_t processes = 0;
  size_t threads = 0;
  uint64_t bytesStored = 0;
  uint64_t zeroPages = 0;
  uint64_t parentPages = 0;        // pages left in the parent image (incremental)
  uint64_t bytesOnDisk = 0;        // page files as written (compressed or not)
  double freezeMs = 0;             // from the start of the freeze to the resume (or kill)
  int preCopyRounds = 0;           // copies of memory made while the tree ran (0: no pre-copy)
  uint64_t bytesCopiedFrozen = 0;  // private pages copied while the tree was frozen
  double totalMs = 0;
};

DumpSummary dumpTree(const DumpRequest& req);

}  // namespace ckpt
