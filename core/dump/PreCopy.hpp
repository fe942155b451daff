// Iterative pre-copy of private memory, so that the freeze of a dump does not
// grow with memory size. While the tree runs: every process gets a write
// tracker (core/mem/WriteTracker.hpp) over its private anonymous mappings,
// all their pages are copied, then the pages written meanwhile, in rounds,
// until few are left. Frozen: only the pages written since the last round,
// mappings that are new or changed, and the copied-on-write pages of private
// file mappings are copied. The image then holds exactly the memory of the
// freeze instant: every page either was not written since its last copy
// (the kernel says so) or is copied frozen.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <vector>

#include "core/dump/MemoryDumper.hpp"
#include "core/dump/PageLedger.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/mem/VmFlagsCarry.hpp"

namespace ckpt {

struct PreCopyStats {
  int rounds = 0;             // copies while the tree ran, the first (all pages) included
  uint64_t bytesRunning = 0;  // copied while the tree ran
  uint64_t bytesFrozen = 0;   // copied while it was frozen
};

class PreCopy {
 public:
  // Stops the tree briefly to make every process's tracker, registers its
  // private anonymous mappings and copies them in rounds while it runs.
  // Processes that cannot be tracked are left to the frozen dump. Page files
  // are written plain (no compression, no parent image).
  // With `pageHashes`, every data page's XXH3 is kept for the image's page
  // hashes file.
  PreCopy(pid_t root, image::ImageWriter& writer, bool pageHashes);
  ~PreCopy();
  PreCopy(const PreCopy&) = delete;
  PreCopy& operator=(const PreCopy&) = delete;

  bool tracks(pid_t pid) const;
  // Frozen: the VmFlags of `maps`, carried over from an smaps read at the
  // end of pre-copy (core/mem/VmFlagsCarry.hpp); nothing when unknown.
  std::optional<VmFlagsMap> vmflags(pid_t pid, const std::vector<proc::MapsEntry>& maps) const;
  // Frozen, after describeProcessMemory(): the last look at the process's
  // written pages and mappings, and the copy of what changed.
  void copyFrozen(const FrozenProcess& fp, image::Process& p);
  // Once nothing more is copied (the tree may run again): the page runs of
  // every mapping of `p`, from the copies made before and during the freeze,
  // and (if kept) the hashes of its data pages in run order.
  MemoryStats fillRuns(image::Process& p, std::vector<uint64_t>* pageHashes);
  // Lets go of every tracker: the program's pages are plain again.
  void release();

  const PreCopyStats& stats() const { return stats_; }

 private:
  struct Tracked;
  void track(std::vector<FrozenProcess>& processes);
  void copyRounds();
  uint64_t copyRanges(Tracked& t, const std::vector<PageLedger::Range>& ranges);
  Tracked* find(pid_t pid) const;

  image::ImageWriter& writer_;
  bool pageHashes_;
  std::vector<std::unique_ptr<Tracked>> tracked_;
  PreCopyStats stats_;
};

}  // namespace ckpt
