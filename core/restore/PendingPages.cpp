// Interval bookkeeping of the pages a lazy restore still owes a process.
#include "core/restore/PendingPages.hpp"

#include <algorithm>
#include <vector>

namespace ckpt {
namespace {
constexpr uint64_t kPageBytes = 4096;
}  // namespace

void PendingPages::add(const Piece& p) {
  if (p.len == 0) return;
  pieces_[p.addr] = p;
  bytes_ += p.len;
}

PendingPages::Map::const_iterator PendingPages::find(uint64_t addr) const {
  auto it = pieces_.upper_bound(addr);
  if (it == pieces_.begin()) return pieces_.end();
  --it;
  return addr < it->second.addr + it->second.len ? it : pieces_.end();
}

void PendingPages::splitAt(uint64_t addr) {
  auto it = find(addr);
  if (it == pieces_.end() || it->first == addr) return;
  Piece head = it->second;
  Piece tail = head;
  head.len = addr - head.addr;
  tail.addr = addr;
  tail.len -= head.len;
  tail.offset += head.len;
  if (tail.hashes) tail.hashes += head.len / kPageBytes;
  pieces_[head.addr] = head;
  pieces_[tail.addr] = tail;
}

std::optional<PendingPages::Piece> PendingPages::take(uint64_t addr, uint64_t lo, uint64_t hi) {
  if (!contains(addr)) return std::nullopt;
  const Piece& whole = find(addr)->second;
  lo = std::max(lo, whole.addr);
  hi = std::min(hi, whole.addr + whole.len);
  splitAt(lo);
  splitAt(hi);
  auto it = pieces_.find(lo);
  Piece out = it->second;
  pieces_.erase(it);
  bytes_ -= out.len;
  return out;
}

std::optional<PendingPages::Piece> PendingPages::takeFirst(uint64_t align) {
  if (pieces_.empty()) return std::nullopt;
  uint64_t start = pieces_.begin()->first;
  return take(start, start, (start + align) & ~(align - 1));
}

void PendingPages::erase(uint64_t start, uint64_t end) {
  splitAt(start);
  splitAt(end);
  for (auto it = pieces_.lower_bound(start); it != pieces_.end() && it->first < end;) {
    bytes_ -= it->second.len;
    it = pieces_.erase(it);
  }
}

void PendingPages::move(uint64_t from, uint64_t to, uint64_t len) {
  if (from == to) return;
  splitAt(from);
  splitAt(from + len);
  std::vector<Piece> moved;
  for (auto it = pieces_.lower_bound(from); it != pieces_.end() && it->first < from + len;) {
    moved.push_back(it->second);
    bytes_ -= it->second.len;
    it = pieces_.erase(it);
  }
  // Whatever was pending where the mapping lands is gone: mremap unmapped it.
  erase(to, to + len);
  for (Piece p : moved) {
    p.addr = p.addr - from + to;
    add(p);
  }
}

}  // namespace ckpt
