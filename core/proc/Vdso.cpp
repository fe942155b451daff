// The vDSO area of ckpt's own process.
#include "core/proc/Vdso.hpp"

#include "core/image/Checksum.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"

namespace ckpt::proc {

const char* vdsoAreaName(std::size_t i) {
  static const char* const names[] = {"[vvar]", "[vvar_vclock]", "[vdso]"};
  return i < 3 ? names[i] : "?";
}

VdsoArea thisKernelVdso() {
  VdsoArea a;
  a.sizes.assign(3, 0);
  for (const auto& m : parseMaps(readProcFile("/proc/self/maps")))
    for (size_t i = 0; i < 3; ++i)
      if (m.path == vdsoAreaName(i)) {
        a.sizes[i] = m.end - m.start;
        // Readable code, mapped in ckpt too: hashed where it lies.
        if (i == 2) a.xxh3 = image::xxh3(reinterpret_cast<const void*>(m.start), m.end - m.start);
      }
  return a;
}

}  // namespace ckpt::proc
