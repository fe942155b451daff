// Where the latest copy of each page of one process lies in its page file,
// while pre-copy copies pages again and again (core/dump/PreCopy.hpp): a
// newer copy of a page replaces the older one, whose bytes stay behind in
// the append-only file, unreferenced.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt {

class PageLedger {
 public:
  struct Range {
    uint64_t start, end;
  };

  // A run just written (or a zero run): from now on its pages are there.
  // `pageHashes`, when kept, holds the XXH3 of each page of a data run.
  void record(const image::PageRun& run, std::vector<uint64_t> pageHashes = {});
  // The copies of [start, end) are out of date.
  void forget(uint64_t start, uint64_t end);
  // The parts of [start, end) with no copy, in address order.
  std::vector<Range> missing(uint64_t start, uint64_t end) const;
  // The parts of [start, end) with a copy, in address order.
  std::vector<Range> covered(uint64_t start, uint64_t end) const;

  // Appends the runs covering [start, end) to `out`, in address order;
  // every page of the range must have a copy. A piece cut out of a recorded
  // run gets its checksum from `checksum(offset, len)` (bytes of the file).
  // `pageHashes`, when given, receives the page hashes of the data runs.
  void runs(uint64_t start, uint64_t end, std::vector<image::PageRun>& out,
            const std::function<uint64_t(uint64_t offset, uint64_t len)>& checksum,
            std::vector<uint64_t>* pageHashes = nullptr) const;

  size_t size() const { return runs_.size(); }

 private:
  struct Entry {
    image::PageRun run;
    bool whole = true;             // run.xxh3 is the checksum of exactly these pages
    std::vector<uint64_t> hashes;  // per page (data runs, when kept)
  };
  // Cuts the entry holding `addr` (if any) in two at `addr`.
  void splitAt(uint64_t addr);
  static uint64_t endOf(const image::PageRun& r) { return r.addr + r.npages * image::kPageSize; }

  std::map<uint64_t, Entry> runs_;  // by start address; never overlapping
};

}  // namespace ckpt
