// An interval map of page runs, cut where newer copies overlap older ones.
#include "core/dump/PageLedger.hpp"

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt {

namespace {
constexpr uint64_t kPage = image::kPageSize;
}

void PageLedger::splitAt(uint64_t addr) {
  auto it = runs_.upper_bound(addr);
  if (it == runs_.begin()) return;
  --it;
  Entry& e = it->second;
  if (e.run.addr == addr || endOf(e.run) <= addr) return;
  const uint64_t leftPages = (addr - e.run.addr) / kPage;
  Entry right = e;
  if (!e.hashes.empty()) {
    right.hashes.assign(e.hashes.begin() + long(leftPages), e.hashes.end());
    e.hashes.resize(leftPages);
  }
  right.run.addr = addr;
  right.run.npages = e.run.npages - leftPages;
  if (!right.run.zero) right.run.offset += leftPages * kPage;
  right.whole = false;
  e.run.npages = leftPages;
  e.whole = false;
  runs_.emplace(addr, right);
}

void PageLedger::forget(uint64_t start, uint64_t end) {
  if (start >= end) return;
  splitAt(start);
  splitAt(end);
  auto it = runs_.lower_bound(start);
  while (it != runs_.end() && it->first < end) it = runs_.erase(it);
}

void PageLedger::record(const image::PageRun& run, std::vector<uint64_t> pageHashes) {
  if (run.npages == 0) return;
  forget(run.addr, endOf(run));
  runs_.emplace(run.addr, Entry{run, true, std::move(pageHashes)});
}

std::vector<PageLedger::Range> PageLedger::missing(uint64_t start, uint64_t end) const {
  std::vector<Range> out;
  uint64_t at = start;
  auto it = runs_.upper_bound(start);
  if (it != runs_.begin()) --it;
  for (; it != runs_.end() && at < end; ++it) {
    const uint64_t s = it->second.run.addr, e = endOf(it->second.run);
    if (e <= at) continue;
    if (s >= end) break;
    if (s > at) out.push_back({at, s});
    at = e;
  }
  if (at < end) out.push_back({at, end});
  return out;
}

std::vector<PageLedger::Range> PageLedger::covered(uint64_t start, uint64_t end) const {
  std::vector<Range> out;
  auto it = runs_.upper_bound(start);
  if (it != runs_.begin()) --it;
  for (; it != runs_.end() && it->first < end; ++it) {
    const uint64_t s = std::max(start, it->second.run.addr);
    const uint64_t e = std::min(end, endOf(it->second.run));
    if (s >= e) continue;
    if (!out.empty() && out.back().end == s)
      out.back().end = e;
    else
      out.push_back({s, e});
  }
  return out;
}

void PageLedger::runs(uint64_t start, uint64_t end, std::vector<image::PageRun>& out,
                      const std::function<uint64_t(uint64_t offset, uint64_t len)>& checksum,
                      std::vector<uint64_t>* pageHashes) const {
  uint64_t at = start;
  auto it = runs_.upper_bound(start);
  if (it != runs_.begin()) --it;
  for (; it != runs_.end() && at < end; ++it) {
    const Entry& e = it->second;
    const uint64_t s = e.run.addr, stop = endOf(e.run);
    if (stop <= at) continue;
    if (s > at) break;  // a hole: reported below
    image::PageRun piece = e.run;
    piece.addr = at;
    piece.npages = (std::min(stop, end) - at) / kPage;
    if (!piece.zero) {
      piece.offset = e.run.offset + (at - s);
      if (!e.whole || piece.addr != s || piece.npages != e.run.npages)
        piece.xxh3 = checksum(piece.offset, piece.npages * kPage);
      if (pageHashes) {
        if (e.hashes.size() != e.run.npages)
          throw Error(fmt::format("internal: no page hashes for {:#x}", piece.addr));
        auto first = e.hashes.begin() + long((at - s) / kPage);
        pageHashes->insert(pageHashes->end(), first, first + long(piece.npages));
      }
    }
    out.push_back(piece);
    at = endOf(piece);
  }
  if (at < end) throw Error(fmt::format("internal: no copy of the pages at {:#x}-{:#x}", at, end));
}

}  // namespace ckpt
