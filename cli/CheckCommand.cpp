// `ckpt check` (being written).
#include "cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
int checkCommand(bool) { throw Error("not built yet"); }
}  // namespace ckpt::cli
