// `ckpt restore`: check the image, recreate the tree, let it run.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ckpt {

struct RestoreRequest {
  std::string dir;
  std::map<std::string, std::string> hookOptions;  // --hook-option KEY=VALUE (core/hooks/)
  std::chrono::milliseconds hookTimeout{10000};    // --hook-timeout
  // --shell-job: the terminal ckpt runs in stands in for the one the tree
  // was started from (its fds and controlling terminal).
  bool shellJob = false;
};

struct RestoreSummary {
  pid_t root = 0;
  size_t processes = 0;
  double verifyMs = 0;
  double restoreMs = 0;
  // Hooks that did not answer `restarted` with ok; the tree runs all the same.
  std::vector<std::string> hookErrors;
};

// Returns once every process runs and its hooks have answered. On failure
// nothing of the tree is left (a hook's failure is not one: see hookErrors).
RestoreSummary restoreTree(const RestoreRequest& req);

}  // namespace ckpt
