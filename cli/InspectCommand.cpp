// `ckpt inspect` (being written).
#include "cli/Commands.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
int inspectCommand(const std::string&, bool) { throw Error("not built yet"); }
}  // namespace ckpt::cli
