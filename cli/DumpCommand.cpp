// `ckpt dump PID -o DIR [--kill]`, once or every T (cli/RollingDumps).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "cli/RollingDumps.hpp"
#include "core/dump/Dumper.hpp"
#include "core/util/Log.hpp"

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
          {"freeze_ms", s.freezeMs},
          {"total_ms", s.totalMs}};
}

DumpSummary dumpOnce(const DumpOptions& opts);

}  // namespace

int dumpCommand(const DumpOptions& opts) {
  if (!opts.every.empty()) {
    Rolling rolling{parseDuration(opts.every), opts.keep};
    DumpOptions one = opts;
    one.every.clear();
    return rollingDumps(
        opts.pid, opts.dir, rolling,
        [&](const std::string& dir) {
          one.dir = dir;
          return dumpOnce(one);
        },
        [&](const std::string& dir, const DumpSummary& s) {
          if (opts.json) std::printf("%s\n", summaryJson(dir, one, s).dump().c_str());
          std::fflush(stdout);
        });
  }
  DumpSummary s = dumpOnce(opts);
  if (opts.json) std::printf("%s\n", summaryJson(opts.dir, opts, s).dump(2).c_str());
  return 0;
}

namespace {
DumpSummary dumpOnce(const DumpOptions& opts) {
  DumpRequest req{opts.pid,
                  opts.dir,
                  opts.kill,
                  opts.externals,
                  std::chrono::milliseconds(std::llround(opts.hookTimeout * 1000)),
                  opts.tcpClose,
                  opts.shellJob,
                  opts.unixClose};
  DumpSummary s = dumpTree(req);
  log::info("dumped {} processes, {} threads: {:.1f} MiB stored, {} zero pages, {:.1f} ms",
            s.processes, s.threads, double(s.bytesStored) / (1 << 20), s.zeroPages, s.totalMs);
  return s;
}
}  // namespace

}  // namespace ckpt::cli
