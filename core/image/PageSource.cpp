// PageSource: frames found by binary search on their uncompressed offsets;
// a frame that a read covers whole is decompressed straight into place.
#include "core/image/PageSource.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "core/image/Checksum.hpp"
#include "core/image/PageCodec.hpp"
#include "core/util/Error.hpp"

namespace ckpt::image {

PageSource::PageSource(const std::string& dir, const Process& p)
    : process_(p), file_(dir, p.pages_file), path_(dir + "/" + p.pages_file) {
  if (!p.pages_codec.empty() && p.pages_codec != "zstd")
    file_.fail(fmt::format("stored with codec '{}', which this ckpt does not know", p.pages_codec));
  uint64_t raw = 0, at = 0;
  for (size_t i = 0; i < p.pages_frames.size(); ++i) {
    const PageFrame& f = p.pages_frames[i];
    if (f.raw_offset != raw || f.offset != at || f.raw_len == 0 || f.raw_len > kMaxFrameRawBytes ||
        f.len > file_.size() || f.offset > file_.size() - f.len)
      file_.fail(
          fmt::format("frame {} ({} bytes at {}, {} uncompressed at {}) does not follow "
                      "the one before or lies outside the file: the image is corrupt",
                      i, f.len, f.offset, f.raw_len, f.raw_offset));
    raw += f.raw_len;
    at += f.len;
  }
  if (!plain() && at != file_.size())
    file_.fail(
        fmt::format("holds {} bytes, its frames {}: the image is corrupt", file_.size(), at));
}

uint64_t PageSource::rawSize() const {
  if (plain()) return file_.size();
  return process_.pages_frames.empty()
             ? 0
             : process_.pages_frames.back().raw_offset + process_.pages_frames.back().raw_len;
}

size_t PageSource::firstFrame(uint64_t offset) const {
  const auto& fr = process_.pages_frames;
  auto it = std::upper_bound(fr.begin(), fr.end(), offset,
                             [](uint64_t o, const PageFrame& f) { return o < f.raw_offset; });
  return size_t(it - fr.begin()) - 1;  // callers checked offset < rawSize()
}

void PageSource::read(uint64_t offset, uint64_t len, char* out, WorkerPool* pool) const {
  if (len == 0) return;
  if (offset > rawSize() || rawSize() - offset < len) file_.failTruncated(offset + len);
  if (plain()) {
    file_.readExact(out, len, offset);
    return;
  }
  const auto& fr = process_.pages_frames;
  const size_t first = firstFrame(offset);
  size_t last = first;
  while (fr[last].raw_offset + fr[last].raw_len < offset + len) ++last;
  auto one = [&](size_t k) {
    const PageFrame& f = fr[first + k];
    const std::string what =
        fmt::format("image {}: {}: frame at {}", file_.dir(), file_.name(), f.offset);
    AlignedBuffer packed = alignedBuffer(f.len);
    file_.readExact(packed.get(), f.len, f.offset);
    if (xxh3(packed.get(), f.len) != f.xxh3)
      throw Error(what + ": checksum mismatch: the image is corrupt");
    const uint64_t from = std::max(offset, f.raw_offset);
    const uint64_t to = std::min(offset + len, f.raw_offset + f.raw_len);
    char* dst = out + (from - offset);
    if (from == f.raw_offset && to == f.raw_offset + f.raw_len) {
      decompressFrame(dst, f.raw_len, packed.get(), f.len, what);
    } else {
      AlignedBuffer whole = alignedBuffer(f.raw_len);
      decompressFrame(whole.get(), f.raw_len, packed.get(), f.len, what);
      std::memcpy(dst, whole.get() + (from - f.raw_offset), to - from);
    }
  };
  const size_t n = last - first + 1;
  if (pool && n > 1)
    pool->run(n, one);
  else
    for (size_t k = 0; k < n; ++k) one(k);
}

void PageSource::check(std::vector<Extent>& extents, bool deep, WorkerPool* pool) const {
  if (plain()) {
    checkExtents(file_, extents);
    return;
  }
  const uint64_t raw = rawSize();
  for (const Extent& e : extents)
    if (e.offset > raw || raw - e.offset < e.len)
      file_.fail(
          fmt::format("{} lies beyond the {} bytes of pages the file holds: the image "
                      "is corrupt",
                      e.what, raw));
  if (!deep) {
    // The frames the runs touch, by their compressed checksums: no decompression.
    std::vector<bool> touched(process_.pages_frames.size());
    for (const Extent& e : extents) {
      if (e.len == 0) continue;
      for (size_t k = firstFrame(e.offset);
           k < touched.size() && process_.pages_frames[k].raw_offset < e.offset + e.len; ++k)
        touched[k] = true;
    }
    std::vector<Extent> frames;
    for (size_t k = 0; k < touched.size(); ++k)
      if (touched[k]) {
        const PageFrame& f = process_.pages_frames[k];
        frames.push_back(Extent{f.offset, f.len, f.xxh3, fmt::format("frame at {}", f.offset)});
      }
    checkExtents(file_, frames);
    return;
  }
  constexpr uint64_t kChunk = uint64_t{16} << 20;
  AlignedBuffer buf = alignedBuffer(kChunk);
  Xxh3Stream hash;
  for (const Extent& e : extents) {
    hash.reset();
    for (uint64_t at = 0; at < e.len; at += kChunk) {
      const uint64_t take = std::min(kChunk, e.len - at);
      read(e.offset + at, take, buf.get(), pool);
      hash.update(buf.get(), take);
    }
    if (hash.digest() != e.xxh3)
      file_.fail(e.what + " checksum mismatch after decompression: the image is corrupt");
  }
}

}  // namespace ckpt::image
