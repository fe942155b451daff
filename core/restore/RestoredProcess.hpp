// One process being restored: its stub's threads under ptrace, the injected
// call session on its main thread, and where its scratch area is.
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <string>

#include "core/image/Model.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemotePtr.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/ptrace/Tracee.hpp"

namespace ckpt {

struct RestoredProcess {
  const image::Process* img = nullptr;
  pid_t pid = 0;
  std::deque<Tracee> threads;  // [0] is the main thread; deque keeps references stable
  std::unique_ptr<RemoteSyscalls> main;
  bool exited = false;  // a zombie that has been made to exit
};

// Where the scratch area lives in every restored process: a range that no
// saved mapping of any process uses. It holds `syscall; int3` at its start,
// the loop of SyscallBatch after it, then room for arguments, and the
// batch's table at its end.
struct ScratchLayout {
  uint64_t base = 0;
  uint64_t size = 0;     // scratch area proper
  uint64_t reserve = 0;  // base..base+reserve is free everywhere (scratch + vdso parking)
  static constexpr uint64_t kInsnOffset = 0;
  static constexpr uint64_t kBatchCodeOffset = 8;
  static constexpr uint64_t kDataOffset = 64;
  static constexpr uint64_t kBatchTableSize = 64 * 1024;
  RemotePtr insn() const { return RemotePtr(base + kInsnOffset); }
  RemotePtr batchCode() const { return RemotePtr(base + kBatchCodeOffset); }
  RemotePtr data() const { return RemotePtr(base + kDataOffset); }
  uint64_t dataSize() const { return size - kDataOffset - kBatchTableSize; }
  RemotePtr batchTable() const { return RemotePtr(base + size - kBatchTableSize); }
  // Writes a NUL-terminated string at `off` in the data area, for a call's
  // path argument; throws if it does not fit.
  RemotePtr putString(RemoteMemory& mem, uint64_t off, const std::string& str) const;
};

}  // namespace ckpt
