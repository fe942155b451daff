// An address in another process's address space, kept apart from local pointers.
#pragma once

#include <cstdint>

namespace ckpt {

class RemotePtr {
 public:
  constexpr RemotePtr() = default;
  constexpr explicit RemotePtr(uint64_t addr) : addr_(addr) {}
  constexpr uint64_t addr() const { return addr_; }
  constexpr RemotePtr operator+(uint64_t off) const { return RemotePtr(addr_ + off); }
  constexpr bool operator==(const RemotePtr&) const = default;
  constexpr explicit operator bool() const { return addr_ != 0; }

 private:
  uint64_t addr_ = 0;
};

}  // namespace ckpt
