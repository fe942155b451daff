// signalfd: its signal mask. A signalfd reads the pending signals of whoever
// reads it, not of its creator, so ckpt can make it for the process.
#include <fcntl.h>
#include <signal.h>
#include <sys/signalfd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

bool matches(const FdProbe& p) {
  return p.link == "anon_inode:[signalfd]";
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::Signalfd;
  auto it = p.info.fields.find("sigmask");
  if (it == p.info.fields.end())
    throw Error(
        fmt::format("pid {} fd {} (signalfd): fdinfo has no 'sigmask' line; this kernel is "
                    "too old for ckpt to save a signalfd",
                    p.pid, p.fd));
  // 16 hex digits, bit N-1 for signal N (the kernel's render_sigset_t).
  uint64_t mask = 0;
  try {
    size_t used = 0;
    mask = std::stoull(it->second, &used, 16);
    if (used != it->second.size()) throw std::invalid_argument("trailing characters");
  } catch (const std::exception&) {
    throw Error(fmt::format("pid {} fd {} (signalfd): cannot read 'sigmask: {}' in its fdinfo",
                            p.pid, p.fd, it->second));
  }
  d.state = {{"sigmask", mask}};
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  uint64_t mask = d.state.at("sigmask").get<uint64_t>();
  // Bit by bit: glibc's sigaddset refuses the signals it keeps for itself (32, 33).
  sigset_t set;
  sigemptyset(&set);
  std::memcpy(&set, &mask, sizeof mask);
  UniqueFd fd(signalfd(-1, &set, SFD_CLOEXEC | (d.flags & O_NONBLOCK ? SFD_NONBLOCK : 0)));
  if (!fd) throwErrno(fmt::format("creating a signalfd for mask {:#x}", mask));
  return fd;
}

}  // namespace

extern const FdKind kSignalfdKind{"signalfd", matches, dump, restore, {image::FileKind::Signalfd},
                                  nullptr};

}  // namespace ckpt
