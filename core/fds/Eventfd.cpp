// eventfd: its 64-bit counter and the semaphore flag, read from fdinfo, and
// brought back in ckpt with eventfd() plus one write of the counter.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

bool matches(const FdProbe& p) {
  return p.link == "anon_inode:[eventfd]";
}

uint64_t hexField(const FdProbe& p, const std::string& key) {
  auto it = p.info.fields.find(key);
  if (it == p.info.fields.end())
    throw Error(
        fmt::format("pid {} fd {} (eventfd): fdinfo has no '{}' line; this kernel is too "
                    "old for ckpt to save an eventfd",
                    p.pid, p.fd, key));
  try {
    size_t used = 0;
    uint64_t v = std::stoull(it->second, &used, 16);
    if (used == it->second.size()) return v;
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("pid {} fd {} (eventfd): cannot read '{}: {}' in its fdinfo", p.pid, p.fd,
                          key, it->second));
}

void add(const FdProbe& p, uint64_t n) {
  if (::write(p.local.get(), &n, sizeof n) != sizeof n)
    throwErrno(fmt::format("pid {} fd {} (eventfd): adding {} to the counter", p.pid, p.fd, n));
}

uint64_t take(const FdProbe& p) {
  uint64_t n = 0;
  if (::read(p.local.get(), &n, sizeof n) != sizeof n)
    throwErrno(fmt::format("pid {} fd {} (eventfd): reading the counter", p.pid, p.fd));
  return n;
}

// Kernels that do not show "eventfd-semaphore" leave one way to tell: a read
// takes 1 from a semaphore and everything from a plain counter. Make sure the
// counter is at least 2 (so the answers differ and the read cannot block),
// read once, and put the counter back. The tree is frozen, so nobody else
// reads in between; pollers may see one spurious wakeup.
bool inferSemaphore(const FdProbe& p, uint64_t count) {
  uint64_t added = count < 2 ? 2 : 0;
  if (added) add(p, added);
  uint64_t got = take(p);
  bool semaphore = got == 1;
  if (semaphore) {
    if (added)
      take(p);  // count + 2 - 1 -> count
    else
      add(p, 1);
  } else if (count) {
    add(p, count);  // a plain read emptied it
  }
  log::debug("pid {} fd {}: eventfd semaphore mode inferred: {}", p.pid, p.fd, semaphore);
  return semaphore;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::Eventfd;
  uint64_t count = hexField(p, "eventfd-count");
  bool semaphore = p.info.fields.contains("eventfd-semaphore")
                       ? hexField(p, "eventfd-semaphore") != 0
                       : inferSemaphore(p, count);
  d.state = {{"count", count}, {"semaphore", semaphore}};
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  uint64_t count = d.state.at("count").get<uint64_t>();
  int flags = EFD_CLOEXEC | (d.state.at("semaphore").get<bool>() ? EFD_SEMAPHORE : 0) |
              (d.flags & O_NONBLOCK ? EFD_NONBLOCK : 0);
  // eventfd() takes an unsigned int; the counter is 64 bits: write it instead.
  UniqueFd fd(eventfd(0, flags));
  if (!fd) throwErrno("creating an eventfd");
  if (count && ::write(fd.get(), &count, sizeof count) != sizeof count)
    throwErrno(fmt::format("setting a restored eventfd's counter to {}", count));
  return fd;
}

}  // namespace

extern const FdKind kEventfdKind{"eventfd", matches, dump, restore, {image::FileKind::Eventfd},
                                 nullptr};

}  // namespace ckpt
