// The pages of one restored address space that still have to come from the
// image during a lazy restore: address ranges, each with where its bytes are.
// Pure bookkeeping (no kernel state), so the page server's handling of
// faults, forks, madvise, munmap and mremap is unit-tested on its own.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace ckpt::image {
class PageSource;
}

namespace ckpt {

class PendingPages {
 public:
  struct Piece {
    uint64_t addr = 0;
    uint64_t len = 0;
    const image::PageSource* src = nullptr;
    uint64_t offset = 0;  // of addr's bytes in src
    // XXH3-64 of each page from addr on (the image's page hashes), or null.
    const uint64_t* hashes = nullptr;
  };

  // Pieces must not overlap what is pending already.
  void add(const Piece& p);
  bool empty() const { return pieces_.empty(); }
  uint64_t bytes() const { return bytes_; }
  bool contains(uint64_t addr) const { return find(addr) != pieces_.end(); }

  // Removes and returns the pending bytes around `addr` that lie in the
  // window [lo, hi); nothing when addr is not pending.
  std::optional<Piece> take(uint64_t addr, uint64_t lo, uint64_t hi);
  // Removes and returns the lowest pending bytes, at most up to the next
  // multiple of `align` (a power of two) past their start.
  std::optional<Piece> takeFirst(uint64_t align);
  // [start, end) no longer needs the image (zapped, unmapped).
  void erase(uint64_t start, uint64_t end);
  // The mapping at [from, from + len) now lives at `to` (mremap).
  void move(uint64_t from, uint64_t to, uint64_t len);

 private:
  using Map = std::map<uint64_t, Piece>;
  Map::const_iterator find(uint64_t addr) const;
  // Splits the piece holding `addr` (if any) so that one starts there.
  void splitAt(uint64_t addr);

  Map pieces_;
  uint64_t bytes_ = 0;
};

}  // namespace ckpt
