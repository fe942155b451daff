// The reading side of one process's page file: uncompressed bytes at the
// offsets page runs give, whether the file is plain or zstd frames.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/image/ImageFile.hpp"
#include "core/image/Model.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt::image {

class PageSource {
 public:
  // Opens p.pages_file in the image at `dir` and checks that its frames
  // (if any) are contiguous and lie inside the file.
  PageSource(const std::string& dir, const Process& p);

  bool plain() const { return process_.pages_codec.empty(); }
  const std::string& path() const { return path_; }  // for a restored process to read itself
  const ImageFile& file() const { return file_; }
  uint64_t rawSize() const;  // bytes of uncompressed pages the file holds

  // Copies the uncompressed bytes [offset, offset + len) to out. Frames are
  // decompressed on `pool` (may be null); each frame's compressed bytes are
  // checked against its checksum first.
  void read(uint64_t offset, uint64_t len, char* out, WorkerPool* pool) const;

  // Checks uncompressed extents (runs) against their checksums. Plain files:
  // hashes the file. Compressed: the compressed checksum of every frame
  // they touch, and with `deep` also every extent once decompressed.
  void check(std::vector<Extent>& extents, bool deep, WorkerPool* pool) const;

 private:
  size_t firstFrame(uint64_t offset) const;

  const Process& process_;
  ImageFile file_;
  std::string path_;
};

}  // namespace ckpt::image
