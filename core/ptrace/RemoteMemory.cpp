// Remote memory access.
#include "core/ptrace/RemoteMemory.hpp"

#include <fcntl.h>
#include <limits.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt {

int RemoteMemory::memFd(int) {
  if (!mem_) {
    std::string path = fmt::format("/proc/{}/mem", pid_);
    mem_.reset(::open(path.c_str(), O_RDWR | O_CLOEXEC));
    if (!mem_) throwErrno("opening " + path);
  }
  return mem_.get();
}

void RemoteMemory::read(RemotePtr addr, void* buf, size_t len) {
  iovec local{buf, len};
  iovec remote{reinterpret_cast<void*>(addr.addr()), len};
  ssize_t n = process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len) return;
  // Fall back to /proc/PID/mem, which may read areas without PROT_READ.
  size_t done = 0;
  while (done < len) {
    ssize_t r = pread(memFd(O_RDONLY), (char*)buf + done, len - done, addr.addr() + done);
    if (r <= 0)
      throw SysError(fmt::format("reading {} bytes at {:#x} of pid {}", len, addr.addr(), pid_),
                     r < 0 ? errno : EIO);
    done += r;
  }
}

void RemoteMemory::write(RemotePtr addr, const void* buf, size_t len) {
  iovec local{const_cast<void*>(buf), len};
  iovec remote{reinterpret_cast<void*>(addr.addr()), len};
  ssize_t n = process_vm_writev(pid_, &local, 1, &remote, 1, 0);
  if (n == (ssize_t)len) return;
  size_t done = 0;
  while (done < len) {
    ssize_t r = pwrite(memFd(O_RDWR), (const char*)buf + done, len - done, addr.addr() + done);
    if (r <= 0)
      throw SysError(fmt::format("writing {} bytes at {:#x} of pid {}", len, addr.addr(), pid_),
                     r < 0 ? errno : EIO);
    done += r;
  }
}

void RemoteMemory::readv(const std::vector<iovec>& remote, void* local) {
  char* out = static_cast<char*>(local);
  size_t i = 0;
  while (i < remote.size()) {
    size_t count = std::min<size_t>(IOV_MAX, remote.size() - i);
    size_t total = 0;
    for (size_t k = 0; k < count; ++k) total += remote[i + k].iov_len;
    iovec lv{out, total};
    ssize_t n = process_vm_readv(pid_, &lv, 1, &remote[i], count, 0);
    if (n != (ssize_t)total) {
      // A range refused (no PROT_READ, or partial): read these one by one.
      char* p = out;
      for (size_t k = 0; k < count; ++k) {
        read(RemotePtr((uint64_t)remote[i + k].iov_base), p, remote[i + k].iov_len);
        p += remote[i + k].iov_len;
      }
    }
    out += total;
    i += count;
  }
}

std::string RemoteMemory::readString(RemotePtr addr, size_t max) {
  std::string s(max, '\0');
  read(addr, s.data(), max);
  s.resize(std::min(s.find('\0'), max));
  return s;
}

}  // namespace ckpt
