// zstd frames for page files. One frame per MiB rather than zstd's own
// multithreading (ZSTD_c_nbWorkers): the frames are what lets restore and
// incremental children read any run alone, and they spread over the cores
// on both sides, decompression included, which nbWorkers does not.
#include "core/image/PageCodec.hpp"

#include <zstd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>

#include "core/util/Error.hpp"

namespace ckpt::image {
namespace {

struct CCtx {
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  ~CCtx() { ZSTD_freeCCtx(ctx); }
};
struct DCtx {
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  ~DCtx() { ZSTD_freeDCtx(ctx); }
};

}  // namespace

std::string Compression::text() const {
  return enabled() ? fmt::format("{}:{}", codec, level) : std::string();
}

Compression parseCompression(const std::string& spec) {
  Compression c;
  if (spec.empty() || spec == "none") return c;
  const auto colon = spec.find(':');
  const std::string codec = spec.substr(0, colon);
  if (codec != "zstd")
    throw Error(
        fmt::format("--compress {}: unknown codec '{}'; use zstd or zstd:LEVEL", spec, codec));
  c.codec = "zstd";
  // Level 1: on memory pages it compresses almost as well as the default 3
  // at about twice the speed, and the dump is meant to be quick.
  c.level = 1;
  if (colon != std::string::npos) {
    const std::string level = spec.substr(colon + 1);
    char* end = nullptr;
    const long v = std::strtol(level.c_str(), &end, 10);
    if (level.empty() || *end != '\0' || v < ZSTD_minCLevel() || v > ZSTD_maxCLevel() || v == 0)
      throw Error(fmt::format("--compress {}: level '{}' is not a zstd level ({} to {}, not 0)",
                              spec, level, ZSTD_minCLevel(), ZSTD_maxCLevel()));
    c.level = int(v);
  }
  return c;
}

size_t compressBound(size_t len) {
  return ZSTD_compressBound(len);
}

size_t compressFrame(char* dst, size_t cap, const char* src, size_t len, int level) {
  thread_local CCtx cctx;
  const size_t n = ZSTD_compressCCtx(cctx.ctx, dst, cap, src, len, level);
  if (ZSTD_isError(n)) throw Error(fmt::format("zstd compression: {}", ZSTD_getErrorName(n)));
  return n;
}

void decompressFrame(char* dst, size_t rawLen, const char* src, size_t len,
                     const std::string& what) {
  thread_local DCtx dctx;
  const size_t n = ZSTD_decompressDCtx(dctx.ctx, dst, rawLen, src, len);
  if (ZSTD_isError(n))
    throw Error(fmt::format("{}: cannot decompress ({}): the image is corrupt", what,
                            ZSTD_getErrorName(n)));
  if (n != rawLen)
    throw Error(fmt::format("{}: decompressed to {} bytes, expected {}: the image is corrupt", what,
                            n, rawLen));
}

PageFileWriter::PageFileWriter(DataFile& file, const Compression& compression, WorkerPool* pool)
    : file_(file), compression_(compression), pool_(pool) {}

uint64_t PageFileWriter::append(const char* data, size_t len) {
  const uint64_t at = raw_;
  if (!compression_.enabled()) {
    file_.write(data, len);
    raw_ += len;
    return at;
  }
  const size_t n = (len + kFrameRawBytes - 1) / kFrameRawBytes;
  if (out_.size() < n) out_.resize(n);
  std::vector<size_t> sizes(n);
  auto one = [&](size_t i) {
    const size_t off = i * kFrameRawBytes;
    const size_t take = std::min(kFrameRawBytes, len - off);
    auto& buf = out_[i];
    if (buf.size() < compressBound(kFrameRawBytes)) buf.resize(compressBound(kFrameRawBytes));
    sizes[i] = compressFrame(buf.data(), buf.size(), data + off, take, compression_.level);
  };
  if (pool_)
    pool_->run(n, one);
  else
    for (size_t i = 0; i < n; ++i) one(i);
  // Written in order: the frames of the file are the frames of the stream.
  for (size_t i = 0; i < n; ++i) {
    const size_t take = std::min(kFrameRawBytes, len - i * kFrameRawBytes);
    const DataFile::Written w = file_.append(out_[i].data(), sizes[i]);
    frames_.push_back(PageFrame{raw_, take, w.offset, sizes[i], w.xxh3});
    raw_ += take;
  }
  return at;
}

}  // namespace ckpt::image
