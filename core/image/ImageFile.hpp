// A file of an image opened for reading, and checks of byte ranges of it
// against their checksums. Shared by the image reader, the page sources and
// the chain of parent images: none of them trusts a size or offset it reads.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"

namespace ckpt::image {

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<char, AlignedFree>;

// `size` bytes aligned to a page (aligned reads are much faster here).
AlignedBuffer alignedBuffer(size_t size);

// Errors name it as "image DIR: NAME: what".
class ImageFile {
 public:
  // Refuses a name that would lead out of the image; a missing file is
  // "missing: the image is incomplete".
  ImageFile(const std::string& dir, const std::string& name);

  [[noreturn]] void fail(const std::string& what) const;
  [[noreturn]] void failTruncated(uint64_t expected) const;

  // Reads up to len bytes at offset; fewer only at the end of the file.
  size_t readAt(char* buf, size_t len, uint64_t offset) const;
  // Exactly len bytes at offset, or failTruncated.
  void readExact(char* buf, size_t len, uint64_t offset) const;

  int fd() const { return fd_.get(); }
  uint64_t size() const { return size_; }
  const std::string& dir() const { return dir_; }
  const std::string& name() const { return name_; }

 private:
  std::string dir_;
  std::string name_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

// Bytes [offset, offset + len) of a file, checked against a checksum.
struct Extent {
  uint64_t offset;
  uint64_t len;
  uint64_t xxh3;
  std::string what;  // "run at 0x7f... (16 pages)"
};

// Hashes every extent (sorted in place), reading the file in big sequential
// chunks; fails naming the file and the extent.
void checkExtents(const ImageFile& file, std::vector<Extent>& extents);

}  // namespace ckpt::image
