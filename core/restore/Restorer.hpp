// `ckpt restore`: check the image, recreate the tree, let it run.
#pragma once

#include <sys/types.h>

#include <string>

namespace ckpt {

struct RestoreRequest {
  std::string dir;
};

struct RestoreSummary {
  pid_t root = 0;
  size_t processes = 0;
  double verifyMs = 0;
  double restoreMs = 0;
};

// Returns once every process runs. On failure nothing of the tree is left.
RestoreSummary restoreTree(const RestoreRequest& req);

}  // namespace ckpt
