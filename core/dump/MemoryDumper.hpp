// Saves the memory of one frozen process: every mapping as it is, and the
// pages that only the process holds (present or swapped anonymous pages, and
// the copied-on-write pages of private file mappings). All-zero pages are
// recorded, not stored. Pages are read in large batches, never one by one.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

#include "core/dump/ParentPages.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/image/PageCodec.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Progress.hpp"

namespace ckpt {

struct MemoryStats {
  uint64_t pagesStored = 0;
  uint64_t pagesZero = 0;
  uint64_t pagesInParent = 0;  // unchanged since the parent image: not stored again
};

// Where storePrivatePages puts the pages of one process.
struct PageSink {
  image::PageFileWriter& file;
  // The parent image's pages of this process (incremental dumps), or null.
  const std::vector<ParentPages::Page>* parent = nullptr;
  // When set, receives the XXH3 of every data page, in run order: the page
  // hashes file that lets this image be a parent in its turn.
  std::vector<uint64_t>* hashes = nullptr;
};

// Fills `vmas` from the maps and smaps text; the content of shared memory
// objects goes into img.objects, once. Run while the process is frozen.
void describeMemory(pid_t pid, const std::vector<proc::MapsEntry>& maps,
                    const std::map<uint64_t, std::vector<std::string>>& vmflags,
                    std::vector<image::Vma>& vmas, image::Image& img, image::ImageWriter& writer);

// The private pages of `vmas` worth saving (present or swapped anonymous
// pages, copied-on-write pages of private file mappings), found in the
// pagemap of `pagesPid`: the frozen process itself, or its copy-on-write
// snapshot (core/dump/MemorySnapshot.hpp), which has the same private pages.
struct PendingRange {
  size_t vma;
  uint64_t addr;
  uint64_t npages;
};
struct PagePlan {
  std::vector<PendingRange> ranges;
  uint64_t pages = 0;
};
// `only`, when given, picks the mappings to look at.
PagePlan planPrivatePages(pid_t pagesPid, const std::vector<image::Vma>& vmas,
                          const std::function<bool(const image::Vma&)>& only = {});
// Whether the pages of `v` that only the process holds are saved
// (anonymous memory, copied-on-write pages of private file mappings).
bool holdsPrivatePages(const image::Vma& v);

// Reads the planned pages from `pagesPid` and stores them in `pages`.
MemoryStats storePrivatePages(pid_t pagesPid, const PagePlan& plan, const PageSink& sink,
                              std::vector<image::Vma>& vmas, Progress* progress);

// The kind of a mapping from its maps line; throws an Error naming the pid and
// mapping for kinds ckpt cannot save yet.
image::VmaKind classifyMapping(pid_t pid, const proc::MapsEntry& m);

}  // namespace ckpt
