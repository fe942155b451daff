// `ckpt dump PID -o DIR [--kill]`.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "core/dump/Dumper.hpp"
#include "core/util/Log.hpp"

namespace ckpt::cli {

int dumpCommand(const DumpOptions& opts) {
  DumpRequest req{opts.pid,
                  opts.dir,
                  opts.kill,
                  opts.externals,
                  std::chrono::milliseconds(std::llround(opts.hookTimeout * 1000)),
                  opts.tcpClose,
                  opts.shellJob,
                  opts.unixClose};
  DumpSummary s = dumpTree(req);
  if (opts.json) {
    nlohmann::json j{{"image", std::filesystem::absolute(opts.dir).string()},
                     {"root", opts.pid},
                     {"killed", opts.kill},
                     {"processes", s.processes},
                     {"threads", s.threads},
                     {"bytes_stored", s.bytesStored},
                     {"zero_pages", s.zeroPages},
                     {"freeze_ms", s.freezeMs},
                     {"total_ms", s.totalMs}};
    std::printf("%s\n", j.dump(2).c_str());
  }
  log::info("dumped {} processes, {} threads: {:.1f} MiB stored, {} zero pages, {:.1f} ms",
            s.processes, s.threads, double(s.bytesStored) / (1 << 20), s.zeroPages, s.totalMs);
  return 0;
}

}  // namespace ckpt::cli
