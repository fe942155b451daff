// This kernel's vDSO area, as ckpt itself has it mapped: the sizes of
// [vvar], [vvar_vclock] and [vdso] (what an image records as vdso_layout)
// and an xxh3 of the [vdso] code. Every process of one kernel build has the
// same code; programs keep addresses inside it (glibc caches its functions),
// so an image restores only where both match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ckpt::proc {

struct VdsoArea {
  std::vector<uint64_t> sizes;  // [vvar], [vvar_vclock], [vdso]; 0 for one this kernel lacks
  uint64_t xxh3 = 0;            // of [vdso]; 0 when there is none
};

const char* vdsoAreaName(std::size_t i);  // "[vvar]", "[vvar_vclock]", "[vdso]"

VdsoArea thisKernelVdso();

}  // namespace ckpt::proc
