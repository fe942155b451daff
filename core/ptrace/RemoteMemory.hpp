// Reading and writing another process's memory: process_vm_readv/writev in
// large batches, with /proc/PID/mem for areas those refuse (PROT_NONE).
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <string>
#include <vector>

#include "core/ptrace/RemotePtr.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt {

class RemoteMemory {
 public:
  explicit RemoteMemory(pid_t pid) : pid_(pid) {}

  void read(RemotePtr addr, void* buf, size_t len);
  void write(RemotePtr addr, const void* buf, size_t len);
  // Reads many remote ranges into `local` (one contiguous buffer, in order).
  void readv(const std::vector<iovec>& remote, void* local);
  std::string readString(RemotePtr addr, size_t max);

  template <typename T>
  T readValue(RemotePtr addr) {
    T v{};
    read(addr, &v, sizeof v);
    return v;
  }
  template <typename T>
  void writeValue(RemotePtr addr, const T& v) {
    write(addr, &v, sizeof v);
  }

 private:
  int memFd(int flags);
  pid_t pid_;
  UniqueFd mem_;
};

}  // namespace ckpt
