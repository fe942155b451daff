// `ckpt restore`: check the image, recreate the tree, let it run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "core/restore/LazyPages.hpp"

namespace ckpt {

struct RestoreRequest {
  std::string dir;
  std::map<std::string, std::string> hookOptions;  // --hook-option KEY=VALUE (core/hooks/)
  std::chrono::milliseconds hookTimeout{10000};    // --hook-timeout
  // --shell-job: the terminal ckpt runs in stands in for the one the tree
  // was started from (its fds and controlling terminal).
  bool shellJob = false;
  // --lazy: private anonymous memory arrives on first touch and in the
  // background once the tree runs (core/restore/LazyPages.hpp).
  bool lazy = false;
  // With lazy: the page server lets go of ckpt's stdout and stderr (ckpt
  // returns while it runs) and logs to DIR/lazy.log instead.
  bool detach = false;
};

struct RestoreSummary {
  pid_t root = 0;
  size_t processes = 0;
  double verifyMs = 0;
  double restoreMs = 0;
  // restore --lazy: the page server still delivering memory, and when the
  // restore started (its report is in CLOCK_MONOTONIC, as steady_clock).
  LazyServer lazy;
  std::chrono::steady_clock::time_point started;
  // Hooks that did not answer `restarted` with ok; the tree runs all the same.
  std::vector<std::string> hookErrors;
};

// Returns once every process runs and its hooks have answered. On failure
// nothing of the tree is left (a hook's failure is not one: see hookErrors).
RestoreSummary restoreTree(const RestoreRequest& req);

}  // namespace ckpt
