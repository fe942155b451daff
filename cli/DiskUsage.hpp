// How much an image directory takes: its files, their sizes and the blocks
// they hold on disk (shown by `ckpt inspect` and `ckpt ls`).
#pragma once

#include <cstdint>
#include <string>

namespace ckpt::cli {

struct DiskUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;  // apparent sizes
  uint64_t disk = 0;   // allocated blocks
};

// Throws an Error naming `dir` when it cannot be listed.
DiskUsage diskUsage(const std::string& dir);

}  // namespace ckpt::cli
