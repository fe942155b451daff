// `ckpt dump PID -o DIR [--kill]`.
#include <chrono>
#include <cmath>
#include <cstdio>

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
                  opts.shellJob};
  DumpSummary s = dumpTree(req);
  log::info("dumped {} processes, {} threads: {:.1f} MiB stored, {} zero pages, {:.1f} ms",
            s.processes, s.threads, double(s.bytesStored) / (1 << 20), s.zeroPages, s.totalMs);
  return 0;
}

}  // namespace ckpt::cli
