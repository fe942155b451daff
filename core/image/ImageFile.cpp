// ImageFile and checkExtents: reading image files without trusting them.
#include "core/image/ImageFile.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <new>

#include "core/image/Checksum.hpp"
#include "core/image/Model.hpp"
#include "core/util/Error.hpp"

namespace ckpt::image {
namespace {

// Large enough that a syscall per chunk costs nothing next to the copy, small
// enough to stay in L2/L3 while it is hashed.
constexpr size_t kReadChunk = size_t{8} << 20;

}  // namespace

AlignedBuffer alignedBuffer(size_t size) {
  size = (size + kPageSize - 1) & ~(kPageSize - 1);
  void* p = std::aligned_alloc(kPageSize, size ? size : kPageSize);
  if (!p) throw std::bad_alloc();
  return AlignedBuffer(static_cast<char*>(p));
}

ImageFile::ImageFile(const std::string& dir, const std::string& name) : dir_(dir), name_(name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw Error(
        fmt::format("image {}: '{}' is not a file name inside the image: the manifest "
                    "is corrupt",
                    dir, name));
  const std::string path = dir + "/" + name;
  fd_.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd_) {
    if (errno == ENOENT) fail("missing: the image is incomplete");
    throwErrno(fmt::format("image {}: open {}", dir, name));
  }
  struct stat st;
  if (::fstat(fd_.get(), &st) != 0) throwErrno(fmt::format("image {}: stat {}", dir, name));
  if (!S_ISREG(st.st_mode)) fail("not a regular file");
  size_ = static_cast<uint64_t>(st.st_size);
}

void ImageFile::fail(const std::string& what) const {
  throw Error(fmt::format("image {}: {}: {}", dir_, name_, what));
}

void ImageFile::failTruncated(uint64_t expected) const {
  fail(fmt::format("truncated: expected at least {} bytes, file has {}", expected, size_));
}

size_t ImageFile::readAt(char* buf, size_t len, uint64_t offset) const {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd_.get(), buf + done, len - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno(fmt::format("image {}: read {}", dir_, name_));
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void ImageFile::readExact(char* buf, size_t len, uint64_t offset) const {
  if (readAt(buf, len, offset) != len) failTruncated(offset + len);
}

void checkExtents(const ImageFile& file, std::vector<Extent>& extents) {
  uint64_t need = 0;
  for (const Extent& e : extents) need = std::max(need, e.offset + e.len);
  if (need > file.size()) file.failTruncated(need);
  if (extents.empty()) return;
  ::posix_fadvise(file.fd(), 0, 0, POSIX_FADV_SEQUENTIAL);

  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  const AlignedBuffer buf = alignedBuffer(kReadChunk);
  uint64_t winStart = 0, winEnd = 0;  // the file bytes now in buf
  Xxh3Stream hash;
  for (const Extent& e : extents) {
    hash.reset();
    uint64_t pos = e.offset;
    const uint64_t end = e.offset + e.len;
    while (pos < end) {
      if (pos < winStart || pos >= winEnd) {
        winStart = pos & ~(kPageSize - 1);
        winEnd = winStart + file.readAt(buf.get(), kReadChunk, winStart);
        // The file shrank after fstat: someone is changing the image.
        if (pos >= winEnd) file.failTruncated(end);
      }
      const uint64_t take = std::min(end, winEnd) - pos;
      hash.update(buf.get() + (pos - winStart), take);
      pos += take;
    }
    if (hash.digest() != e.xxh3) file.fail(e.what + " checksum mismatch: the image is corrupt");
  }
}

}  // namespace ckpt::image
