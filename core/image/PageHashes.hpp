// The per-page checksums a dump stores next to a process's page file
// (Process::page_hashes_file): XXH3-64 of every data page, in run order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt::image {

// Data pages of p (what the hashes cover), wherever their bytes lie.
uint64_t dataPages(const Process& p);

// Reads and checks p's page hashes in the image at `dir`; throws naming the
// file when its size or checksum is wrong. p.page_hashes_file must be set.
std::vector<uint64_t> readPageHashes(const std::string& dir, const Process& p);

// The same, mapped from the file rather than read into memory (restore
// --lazy, before the tree runs: 8 bytes a page is 4 MiB at 2 GiB, and a
// copy of it would cost more than its checksum).
class MappedPageHashes {
 public:
  MappedPageHashes(const std::string& dir, const Process& p);
  ~MappedPageHashes();
  MappedPageHashes(MappedPageHashes&& o) noexcept;
  MappedPageHashes(const MappedPageHashes&) = delete;
  MappedPageHashes& operator=(const MappedPageHashes&) = delete;
  MappedPageHashes& operator=(MappedPageHashes&&) = delete;

  const uint64_t* data() const { return data_; }

 private:
  const uint64_t* data_ = nullptr;
  uint64_t bytes_ = 0;
};

}  // namespace ckpt::image
