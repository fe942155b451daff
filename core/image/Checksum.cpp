// XXH3-64 helpers over libxxhash.
#include "core/image/Checksum.hpp"

#include <xxhash.h>

#include <fmt/format.h>

#include <new>

namespace ckpt::image {

uint64_t xxh3(const void* data, size_t len) {
  return XXH3_64bits(data, len);
}

// The state is opaque in the shared library's API; keep it out of the header.
struct Xxh3Stream::State {
  XXH3_state_t* s = XXH3_createState();
  State() {
    if (!s) throw std::bad_alloc();
  }
  ~State() { XXH3_freeState(s); }
  State(const State&) = delete;
  State& operator=(const State&) = delete;
};

Xxh3Stream::Xxh3Stream() : state_(std::make_unique<State>()) {
  reset();
}
Xxh3Stream::~Xxh3Stream() = default;

void Xxh3Stream::reset() {
  XXH3_64bits_reset(state_->s);
}

void Xxh3Stream::update(const void* data, size_t len) {
  // XXH3 rejects only a null pointer with a non-zero length.
  if (len > 0) XXH3_64bits_update(state_->s, data, len);
}

uint64_t Xxh3Stream::digest() const {
  return XXH3_64bits_digest(state_->s);
}

std::string xxh3Hex(uint64_t h) {
  return fmt::format("{:016x}", h);
}

}  // namespace ckpt::image
