// SyscallBatch (see SyscallBatch.hpp).
#include "core/restore/SyscallBatch.hpp"

#include <fmt/format.h>

#include "core/ptrace/RemoteMemory.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

// rbx: the table (64-byte entries: number, six arguments, result), r12: how
// many. x86-64 machine code:
//   loop: test r12, r12 ; jz done
//         mov rax, [rbx] ; mov rdi, [rbx+8] ; mov rsi, [rbx+16] ; mov rdx, [rbx+24]
//         mov r10, [rbx+32] ; mov r8, [rbx+40] ; mov r9, [rbx+48]
//         syscall ; mov [rbx+56], rax
//         add rbx, 64 ; dec r12 ; jmp loop
//   done: int3
constexpr unsigned char kLoop[] = {
    0x4d, 0x85, 0xe4, 0x74, 0x2a, 0x48, 0x8b, 0x03, 0x48, 0x8b, 0x7b, 0x08, 0x48, 0x8b, 0x73, 0x10,
    0x48, 0x8b, 0x53, 0x18, 0x4c, 0x8b, 0x53, 0x20, 0x4c, 0x8b, 0x43, 0x28, 0x4c, 0x8b, 0x4b, 0x30,
    0x0f, 0x05, 0x48, 0x89, 0x43, 0x38, 0x48, 0x83, 0xc3, 0x40, 0x49, 0xff, 0xcc, 0xeb, 0xd1, 0xcc};
static_assert(ScratchLayout::kBatchCodeOffset + sizeof kLoop <= ScratchLayout::kDataOffset);

}  // namespace

void writeBatchCode(RemoteMemory& mem, const ScratchLayout& s) {
  mem.write(s.batchCode(), kLoop, sizeof kLoop);
}

void SyscallBatch::add(std::string what, long nr, uint64_t a1, uint64_t a2, uint64_t a3,
                       uint64_t a4, uint64_t a5, uint64_t a6) {
  if (entries_.size() == kMaxEntries) run();
  entries_.push_back(Entry{uint64_t(nr), {a1, a2, a3, a4, a5, a6}, 0});
  whats_.push_back(std::move(what));
}

void SyscallBatch::run() {
  if (entries_.empty()) return;
  RemoteMemory mem(p_.pid);
  const size_t bytes = entries_.size() * sizeof(Entry);
  mem.write(s_.batchTable(), entries_.data(), bytes);
  p_.main->runToTrap(s_.batchCode(), s_.batchTable().addr(), entries_.size(),
                     s_.batchCode() + (sizeof kLoop - 1));
  mem.read(s_.batchTable(), entries_.data(), bytes);
  std::vector<Entry> done = std::move(entries_);
  std::vector<std::string> whats = std::move(whats_);
  entries_.clear();
  whats_.clear();
  for (size_t i = 0; i < done.size(); ++i) {
    const long r = long(done[i].result);
    if (!whats[i].empty() && r < 0 && r > -4096)
      throw SysError(fmt::format("tid {}: {}", p_.pid, whats[i]), int(-r));
  }
}

}  // namespace ckpt
