// Error formatting shared by every layer.
#include "core/util/Error.hpp"

#include <cstring>

namespace ckpt {

SysError::SysError(const std::string& what, int err)
    : Error(what + ": " + std::strerror(err)), err_(err) {}

void throwErrno(const std::string& what) {
  throw SysError(what, errno);
}

}  // namespace ckpt
