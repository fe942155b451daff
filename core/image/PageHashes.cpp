// Reading the per-page checksums of a process's pages.
#include "core/image/PageHashes.hpp"

#include <sys/mman.h>

#include <utility>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/image/ImageFile.hpp"
#include "core/util/Error.hpp"

namespace ckpt::image {

uint64_t dataPages(const Process& p) {
  uint64_t n = 0;
  for (const auto& v : p.vmas)
    for (const auto& r : v.runs)
      if (!r.zero) n += r.npages;
  return n;
}

namespace {

// The file, once its size fits p's data pages.
ImageFile openPageHashes(const std::string& dir, const Process& p) {
  ImageFile file(dir, p.page_hashes_file);
  const uint64_t n = dataPages(p);
  if (file.size() != n * 8)
    file.fail(
        fmt::format("holds {} bytes, expected 8 for each of the {} data pages: the image "
                    "is corrupt",
                    file.size(), n));
  return file;
}

}  // namespace

std::vector<uint64_t> readPageHashes(const std::string& dir, const Process& p) {
  ImageFile file = openPageHashes(dir, p);
  const uint64_t n = file.size() / 8;
  std::vector<uint64_t> hashes(n);
  file.readExact(reinterpret_cast<char*>(hashes.data()), n * 8, 0);
  if (xxh3(hashes.data(), n * 8) != p.page_hashes_xxh3)
    file.fail("checksum mismatch: the image is corrupt");
  return hashes;
}

MappedPageHashes::MappedPageHashes(const std::string& dir, const Process& p) {
  ImageFile file = openPageHashes(dir, p);
  bytes_ = file.size();
  if (bytes_ == 0) {
    if (xxh3(nullptr, 0) != p.page_hashes_xxh3)
      file.fail("checksum mismatch: the image is corrupt");
    return;
  }
  void* at = mmap(nullptr, bytes_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, file.fd(), 0);
  if (at == MAP_FAILED) throwErrno(fmt::format("image {}: mapping {}", dir, p.page_hashes_file));
  data_ = static_cast<const uint64_t*>(at);
  if (xxh3(data_, bytes_) != p.page_hashes_xxh3) {
    munmap(at, bytes_);
    data_ = nullptr;
    file.fail("checksum mismatch: the image is corrupt");
  }
}

MappedPageHashes::MappedPageHashes(MappedPageHashes&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}

MappedPageHashes::~MappedPageHashes() {
  if (data_) munmap(const_cast<uint64_t*>(data_), bytes_);
}

}  // namespace ckpt::image
