// XXH3-64 checksums of image data: every page run, blob and the manifest carry one,
// so restore can refuse a corrupt image before it touches any process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace ckpt::image {

// XXH3_64bits of len bytes (seed 0).
uint64_t xxh3(const void* data, size_t len);

// The same checksum computed over data that arrives in pieces (e.g. a page run
// read in several pread()s): digest() equals xxh3() of the concatenation.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;

  void reset();
  void update(const void* data, size_t len);
  uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// 16 lowercase hex digits, as in manifest.xxh3 and error messages.
std::string xxh3Hex(uint64_t h);

}  // namespace ckpt::image
