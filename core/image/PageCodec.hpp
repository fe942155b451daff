// How page files are stored: plain, or as independent zstd frames of about
// a MiB each (compressed and decompressed on every core, and any run can be
// read without decompressing the frames before it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt::image {

// Uncompressed bytes per frame: big enough for a good ratio and few frames
// in the manifest, small enough that reading one page out of a frame is cheap.
inline constexpr size_t kFrameRawBytes = size_t{1} << 20;
// No frame may claim more than this (a hostile manifest must not make
// restore allocate gigabytes).
inline constexpr uint64_t kMaxFrameRawBytes = uint64_t{64} << 20;

struct Compression {
  std::string codec;  // "" or "zstd"
  int level = 0;
  bool enabled() const { return !codec.empty(); }
  std::string text() const;  // "zstd:3", or ""
};

// "zstd", "zstd:LEVEL" (1..19, negative levels are faster still), "none".
// Throws Error saying what is accepted.
Compression parseCompression(const std::string& spec);

// Compresses len bytes into dst (capacity compressBound(len)); returns the
// compressed size. Each thread keeps its own zstd context.
size_t compressBound(size_t len);
size_t compressFrame(char* dst, size_t cap, const char* src, size_t len, int level);
// Decompresses exactly rawLen bytes; throws Error("WHAT: ..."), never crashes
// on corrupt input.
void decompressFrame(char* dst, size_t rawLen, const char* src, size_t len,
                     const std::string& what);

// The writing side of a page file: append() takes uncompressed pages and
// returns their offset in the uncompressed stream (what PageRun::offset
// holds); with a codec, every kFrameRawBytes become one frame.
class PageFileWriter {
 public:
  PageFileWriter(DataFile& file, const Compression& compression, WorkerPool* pool);

  uint64_t append(const char* data, size_t len);
  uint64_t rawSize() const { return raw_; }
  // The frames written so far (with a codec; empty otherwise).
  const std::vector<PageFrame>& frames() const { return frames_; }
  const std::string& name() const { return file_.name(); }

 private:
  DataFile& file_;
  Compression compression_;
  WorkerPool* pool_;
  uint64_t raw_ = 0;
  std::vector<PageFrame> frames_;
  std::vector<std::vector<char>> out_;  // one compressed buffer per frame of a batch
};

}  // namespace ckpt::image
