#include "tty/Register.hpp"

#include "core/fds/FdKind.hpp"
#include "tty/TtyLayer.hpp"

namespace ckpt::tty {

extern const FdKind kTtyKind;

void registerWithCore() {
  static TtyLayer layer;
  registerFdKind(kTtyKind);
  registerLayer(layer);
}

}  // namespace ckpt::tty
