// The memory character devices a program may hold open (/dev/null, /dev/zero,
// /dev/full, /dev/random, /dev/urandom): stateless, reopened by path.
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "core/fds/FdKind.hpp"

namespace ckpt {
namespace {

bool matches(const FdProbe& p) {
  if (!S_ISCHR(p.st.st_mode) || major(p.st.st_rdev) != 1) return false;
  switch (minor(p.st.st_rdev)) {
    case 3:  // null
    case 5:  // zero
    case 7:  // full
    case 8:  // random
    case 9:  // urandom
      return true;
  }
  return false;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::CharDevice;
  d.path = p.link;
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  return reopenAt(d);
}

}  // namespace

extern const FdKind kCharDeviceKind{"memory character device",     matches, dump, restore,
                                    {image::FileKind::CharDevice}, nullptr};

}  // namespace ckpt
