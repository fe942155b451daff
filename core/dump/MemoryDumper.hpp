// Saves the memory of one frozen process: every mapping as it is, and the
// pages that only the process holds (present or swapped anonymous pages, and
// the copied-on-write pages of private file mappings). All-zero pages are
// recorded, not stored. Pages are read in large batches, never one by one.
#pragma once

#include <sys/types.h>

#include <vector>

#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/proc/ProcParsers.hpp"

namespace ckpt {

struct MemoryStats {
  uint64_t pagesStored = 0;
  uint64_t pagesZero = 0;
};

// Fills `vmas` from the maps and smaps text, and stores page contents in
// `pages`; the content of shared memory objects goes into img.objects, once.
MemoryStats dumpMemory(pid_t pid, const std::vector<proc::MapsEntry>& maps,
                       const std::map<uint64_t, std::vector<std::string>>& vmflags,
                       image::DataFile& pages, std::vector<image::Vma>& vmas, image::Image& img,
                       image::ImageWriter& writer);

// The kind of a mapping from its maps line; throws an Error naming the pid and
// mapping for kinds ckpt cannot save yet.
image::VmaKind classifyMapping(pid_t pid, const proc::MapsEntry& m);

}  // namespace ckpt
