// `ckpt dump PID -o DIR [--kill]`, once or every T (cli/RollingDumps), or to
// stdout as one stream (`-o -`).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "cli/RollingDumps.hpp"
#include "core/dump/Dumper.hpp"
#include "core/image/ImageStream.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/TempDir.hpp"

namespace ckpt::cli {
namespace {

nlohmann::json summaryJson(const std::string& dir, const DumpOptions& opts, const DumpSummary& s) {
  return {{"image", std::filesystem::absolute(dir).string()},
          {"root", opts.pid},
          {"killed", opts.kill},
          {"processes", s.processes},
          {"threads", s.threads},
          {"bytes_stored", s.bytesStored},
          {"zero_pages", s.zeroPages},
          {"parent_pages", s.parentPages},
          {"page_bytes_on_disk", s.bytesOnDisk},
          {"freeze_ms", s.freezeMs},
          {"precopy_rounds", s.preCopyRounds},
          {"bytes_copied_frozen", s.bytesCopiedFrozen},
          {"total_ms", s.totalMs}};
}

DumpSummary dumpOnce(const DumpOptions& opts, bool pageHashes,
                     std::function<void(const std::string&)> beforeRelease = {}) {
  DumpRequest req{opts.pid,
                  opts.dir,
                  opts.kill,
                  opts.externals,
                  std::chrono::milliseconds(std::llround(opts.hookTimeout * 1000)),
                  opts.tcpClose,
                  opts.shellJob,
                  opts.unixClose,
                  opts.compress,
                  opts.parent,
                  pageHashes,
                  std::move(beforeRelease)};
  req.preCopy = opts.preCopy;
  req.preCopyMinBytes = uint64_t(std::llround(opts.preCopyMinMib * 1048576.0));
  DumpSummary s = dumpTree(req);
  log::info(
      "dumped {} processes, {} threads: {:.1f} MiB of pages stored ({:.1f} MiB on disk), {} zero "
      "pages, {} pages left in the parent, {:.1f} ms",
      s.processes, s.threads, double(s.bytesStored) / (1 << 20), double(s.bytesOnDisk) / (1 << 20),
      s.zeroPages, s.parentPages, s.totalMs);
  return s;
}

// `-o -`: the image is made in a private directory and written to stdout
// before the tree is let go (with --kill: before it dies), so a reader that
// goes away fails the dump and the program lives on.
int dumpToStdout(const DumpOptions& opts) {
  if (isatty(STDOUT_FILENO))
    throw Error(
        "refusing to write an image stream to a terminal; redirect stdout (ckpt dump PID -o - | "
        "ssh HOST ckpt restore -) or give -o a directory");
  if (!opts.every.empty()) throw Error("--every needs a directory for its images, not -o -");
  if (opts.json) throw Error("--json and -o - both want stdout; drop one");
  TempDir tmp("ckpt-dump-");
  DumpOptions one = opts;
  one.dir = tmp.path() + "/image";
  // A closed pipe must come back as EPIPE, not kill ckpt while the tree is frozen.
  signal(SIGPIPE, SIG_IGN);
  dumpOnce(one, false,
           [](const std::string& dir) { image::writeImageStream(dir, STDOUT_FILENO, "stdout"); });
  return 0;
}

}  // namespace

int dumpCommand(const DumpOptions& opts) {
  if (opts.dir == "-") return dumpToStdout(opts);
  if (!opts.every.empty()) {
    if (!opts.parent.empty())
      throw Error("--every makes each image incremental on the one before; drop --parent");
    Rolling rolling{parseDuration(opts.every), opts.keep};
    DumpOptions one = opts;
    one.every.clear();
    return rollingDumps(
        opts.pid, opts.dir, rolling,
        [&](const std::string& dir, const std::string& parent) {
          one.dir = dir;
          one.parent = parent;
          return dumpOnce(one, true);
        },
        [&](const std::string& dir, const DumpSummary& s) {
          if (opts.json) std::printf("%s\n", summaryJson(dir, one, s).dump().c_str());
          std::fflush(stdout);
        });
  }
  // Page hashes always: 8 bytes a page and one hash of each page while it is
  // in cache, so that any image can be the --parent of a later one at the
  // speed of reading its hash table, not its pages.
  DumpSummary s = dumpOnce(opts, true);
  if (opts.json) std::printf("%s\n", summaryJson(opts.dir, opts, s).dump(2).c_str());
  return 0;
}

}  // namespace ckpt::cli
