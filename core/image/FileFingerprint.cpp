// Mapped file fingerprints: identity, size, mtime and an xxh3 of the content.
#include "core/image/FileFingerprint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::image {
namespace {

void hashRange(int fd, const std::string& path, uint64_t from, uint64_t len, Xxh3Stream& h) {
  std::vector<char> buf(std::min<uint64_t>(len, 1ull << 20));
  while (len > 0) {
    ssize_t n = pread(fd, buf.data(), std::min<uint64_t>(len, buf.size()), off_t(from));
    if (n < 0) throwErrno(fmt::format("reading mapped file {}", path));
    if (n == 0) break;  // shorter than fstat said: the hash tells
    h.update(buf.data(), size_t(n));
    from += uint64_t(n);
    len -= uint64_t(n);
  }
}

}  // namespace

MappedFile fingerprintFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd) throwErrno(fmt::format("mapped file {}", path));
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) throwErrno(fmt::format("mapped file {}", path));
  MappedFile f;
  f.path = path;
  f.dev = st.st_dev;
  f.ino = st.st_ino;
  f.size = uint64_t(st.st_size);
  f.mtime_ns = int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (!S_ISREG(st.st_mode)) return f;  // a device: identity only
  Xxh3Stream h;
  f.whole = f.size <= kWholeFingerprintLimit;
  if (f.whole) {
    hashRange(fd.get(), path, 0, f.size, h);
  } else {
    hashRange(fd.get(), path, 0, kFingerprintSample, h);
    hashRange(fd.get(), path, f.size - kFingerprintSample, kFingerprintSample, h);
  }
  f.xxh3 = h.digest();
  return f;
}

std::string howFileChanged(const MappedFile& then, const MappedFile& now) {
  const bool sameInode = then.dev == now.dev && then.ino == now.ino;
  if (then.written)
    return sameInode ? ""
                     : fmt::format("it was replaced (inode {} then, {} now)", then.ino, now.ino);
  if (then.size != now.size)
    return fmt::format("its size was {} bytes, now {}", then.size, now.size);
  if (then.xxh3 != now.xxh3)
    return then.whole ? "its content changed"
                      : fmt::format("its content changed (in its first or last {} MiB)",
                                    kFingerprintSample >> 20);
  // The same bytes, whatever the inode: a copy on another machine is as good.
  if (then.whole) return "";
  // Only sampled: anything else that moved says it was written in between.
  if (!sameInode) return fmt::format("it was replaced (inode {} then, {} now)", then.ino, now.ino);
  if (then.mtime_ns != now.mtime_ns) return "it was modified since (its modification time changed)";
  return "";
}

}  // namespace ckpt::image
