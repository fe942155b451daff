// Locating a syscall instruction in the vDSO.
#include "core/ptrace/SyscallInsn.hpp"

#include <sys/auxv.h>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Error.hpp"

namespace ckpt {

uint64_t vdsoSyscallOffset() {
  static const uint64_t offset = [] {
    auto base = reinterpret_cast<const unsigned char*>(getauxval(AT_SYSINFO_EHDR));
    if (!base) throw Error("this kernel gives ckpt no vDSO");
    uint64_t size = 0;
    for (const auto& m : proc::parseMaps(proc::readProcFile("/proc/self/maps")))
      if (m.path == "[vdso]") size = m.end - m.start;
    for (uint64_t i = 0; i + 1 < size; ++i)
      if (base[i] == 0x0f && base[i + 1] == 0x05) return i;
    throw Error("no syscall instruction found in the vDSO");
  }();
  return offset;
}

RemotePtr syscallInsnOf(pid_t pid) {
  for (const auto& m : proc::parseMaps(proc::readProcFile(fmt::format("/proc/{}/maps", pid))))
    if (m.path == "[vdso]") return RemotePtr(m.start + vdsoSyscallOffset());
  throw Error(
      fmt::format("pid {} has no vDSO mapped; ckpt needs it to run system calls there", pid));
}

}  // namespace ckpt
