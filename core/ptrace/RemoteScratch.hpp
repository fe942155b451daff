// A private anonymous area inside a tracee for the arguments of injected
// calls (structures in and out, paths). Unmapped again in the destructor.
#pragma once

#include <sys/mman.h>
#include <sys/syscall.h>

#include <cstddef>

#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/util/Log.hpp"

namespace ckpt {

class RemoteScratch {
 public:
  // `at` = 0 lets the kernel choose; otherwise the area must land exactly there.
  RemoteScratch(RemoteSyscalls& rs, size_t size, uint64_t at = 0, int prot = PROT_READ | PROT_WRITE)
      : rs_(rs), size_(size) {
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0);
    addr_ = RemotePtr(uint64_t(
        rs.check("mapping a scratch area", SYS_mmap, at, size, prot, flags, uint64_t(-1), 0)));
  }
  ~RemoteScratch() {
    if (addr_ && rs_.call(SYS_munmap, addr_.addr(), size_) != 0)
      log::warn("could not unmap the scratch area at {:#x}", addr_.addr());
  }
  RemoteScratch(const RemoteScratch&) = delete;
  RemoteScratch& operator=(const RemoteScratch&) = delete;

  RemotePtr addr() const { return addr_; }
  size_t size() const { return size_; }
  // Forget the area (it was unmapped by other means).
  void release() { addr_ = RemotePtr(); }

 private:
  RemoteSyscalls& rs_;
  size_t size_;
  RemotePtr addr_;
};

}  // namespace ckpt
