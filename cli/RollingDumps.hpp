// `ckpt dump PID -o DIR --every T --keep N`: a checkpoint of the tree every
// T into DIR/img-DATE, keeping the newest N, until the tree ends or ckpt is
// told to stop (SIGINT, SIGTERM). An image appears only complete (a dump
// renames its directory when done) and the oldest goes only after the
// newest is in place, so DIR always holds N good images once it has them.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "core/dump/Dumper.hpp"

namespace ckpt::cli {

// "500ms", "30s", "5m", "2h", "1.5m", or plain seconds "10".
std::chrono::milliseconds parseDuration(const std::string& text);

struct Rolling {
  std::chrono::milliseconds every{0};
  int keep = 3;
};

// Calls `dumpTo(dir)` for each checkpoint; returns the exit status.
int rollingDumps(pid_t root, const std::string& folder, const Rolling& rolling,
                 const std::function<DumpSummary(const std::string& dir)>& dumpTo,
                 const std::function<void(const std::string& dir, const DumpSummary&)>& report);

}  // namespace ckpt::cli
