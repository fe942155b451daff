// Many injected calls for one stop of the thread: their numbers and
// arguments go into a table at the end of the scratch area, and a loop
// written after its `syscall; int3` runs them one after the other, keeps
// each result in the table, and traps once at the end. For calls whose
// arguments do not depend on what an earlier one returned: every call runs,
// and the results are checked after.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/restore/RestoredProcess.hpp"

namespace ckpt {

// Writes the loop into a stub's scratch area (once, in the root: the others
// inherit it).
void writeBatchCode(RemoteMemory& mem, const ScratchLayout& s);

class SyscallBatch {
 public:
  SyscallBatch(RestoredProcess& p, const ScratchLayout& s) : p_(p), s_(s) {}

  // `what` names the call in the error should it fail ("tid N: what");
  // empty: its result does not matter.
  void add(std::string what, long nr, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
           uint64_t a4 = 0, uint64_t a5 = 0, uint64_t a6 = 0);
  // Runs what was added (add() does too when the table is full) and throws
  // a SysError for the first failed call that has a `what`.
  void run();

 private:
  struct Entry {
    uint64_t nr, args[6], result;
  };
  static constexpr size_t kMaxEntries = ScratchLayout::kBatchTableSize / sizeof(Entry);

  RestoredProcess& p_;
  const ScratchLayout& s_;
  std::vector<Entry> entries_;
  std::vector<std::string> whats_;
};

}  // namespace ckpt
