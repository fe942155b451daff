// `ckpt restore` (being written).
#include "cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
int restoreCommand(const RestoreOptions&) { throw Error("not built yet"); }
}  // namespace ckpt::cli
