// `ckpt dump` (being written).
#include "cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
int dumpCommand(const DumpOptions&) { throw Error("not built yet"); }
}  // namespace ckpt::cli
