// `ckpt dump PID -o DIR --every T --keep N`: a checkpoint of the tree every
// T into DIR/img-DATE, keeping the newest N, until the tree ends or ckpt is
// told to stop (SIGINT, SIGTERM). An image appears only complete (a dump
// renames its directory when done) and the oldest goes only after the
// newest is in place, so DIR always holds N good images once it has them.
//
// Each image is incremental on the one before, and every N-th is full: the
// chain of an image is then at most N long. An image older than the newest
// N is removed only when no kept image reads pages from it, so a kept image
// never loses its parent; DIR holds the newest N plus, at most, the N-1
// older ones the oldest kept image still needs (the alternative, merging a
// dropped parent into its child, would rewrite GiBs at every rotation).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "core/dump/Dumper.hpp"

namespace ckpt::cli {

// "500ms", "30s", "5m", "2h", "1.5m", or plain seconds "10".
std::chrono::milliseconds parseDuration(const std::string& text);

// The images of `all` (oldest first) to remove so that the newest `keep`
// stay, with every parent they need; `parentsOf` gives an image's parents.
std::vector<std::string> imagesToRemove(
    const std::vector<std::string>& all, int keep,
    const std::function<std::vector<std::string>(const std::string&)>& parentsOf);

struct Rolling {
  std::chrono::milliseconds every{0};
  int keep = 3;
};

// Calls `dumpTo(dir, parent)` for each checkpoint (parent "" for a full
// image); returns the exit status.
int rollingDumps(
    pid_t root, const std::string& folder, const Rolling& rolling,
    const std::function<DumpSummary(const std::string& dir, const std::string& parent)>& dumpTo,
    const std::function<void(const std::string& dir, const DumpSummary&)>& report);

}  // namespace ckpt::cli
