// Reading the per-page checksums of a process's pages.
#include "core/image/PageHashes.hpp"

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/image/ImageFile.hpp"

namespace ckpt::image {

uint64_t dataPages(const Process& p) {
  uint64_t n = 0;
  for (const auto& v : p.vmas)
    for (const auto& r : v.runs)
      if (!r.zero) n += r.npages;
  return n;
}

std::vector<uint64_t> readPageHashes(const std::string& dir, const Process& p) {
  ImageFile file(dir, p.page_hashes_file);
  const uint64_t n = dataPages(p);
  if (file.size() != n * 8)
    file.fail(
        fmt::format("holds {} bytes, expected 8 for each of the {} data pages: the image "
                    "is corrupt",
                    file.size(), n));
  std::vector<uint64_t> hashes(n);
  file.readExact(reinterpret_cast<char*>(hashes.data()), n * 8, 0);
  if (xxh3(hashes.data(), n * 8) != p.page_hashes_xxh3)
    file.fail("checksum mismatch: the image is corrupt");
  return hashes;
}

}  // namespace ckpt::image
