// Iterative pre-copy of private memory, so that the freeze of a dump does not
// grow with memory size. While the tree runs: every process gets a write
// tracker (core/mem/WriteTracker.hpp) over its private anonymous mappings,
// all their pages are copied, then the pages written meanwhile, in rounds,
// until few are left. Frozen: only the pages written since the last round,
// mappings that are new or changed, and the copied-on-write pages of private
// file mappings are copied. The image then holds exactly the memory of the
// freeze instant: every page either was not written since its last copy
// (the kernel says so) or is copied frozen.
//
// Small processes are not tracked: making a tracker costs a stop of the
// whole tree and an injected clone3 per process (~3 ms each on a busy
// 2-core machine), about what copying 8 MiB frozen costs. A process with
// at most `smallBytes` of private anonymous memory (resident and swapped,
// from /proc/PID/status before the tree is stopped) is left to the
// freeze; when no process is worth tracking, the tree is not stopped at
// all before the freeze.
#pragma once

#include <sys/types.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
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
  PreCopy(pid_t root, image::ImageWriter& writer, bool pageHashes, uint64_t smallBytes);
  ~PreCopy();
  PreCopy(const PreCopy&) = delete;
  PreCopy& operator=(const PreCopy&) = delete;

  bool tracks(pid_t pid) const;
  // A process left untracked because it is small: copied frozen, never
  // given a copy-on-write snapshot (that costs as much as a tracker).
  bool small(pid_t pid) const { return small_.count(pid) != 0; }
  // Frozen: the VmFlags of `maps` and the huge pages of each mapping,
  // carried over from an smaps read at the end of pre-copy (tracked
  // processes) or before the tree was stopped (small ones)
  // (core/mem/VmFlagsCarry.hpp); nothing when unknown.
  std::optional<KnownMappings> known(pid_t pid, const std::vector<proc::MapsEntry>& maps) const;
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
  // What smaps showed of a process while it ran.
  struct Look {
    std::vector<proc::MapsEntry> maps;
    VmFlagsMap flags;
    // Huge pages as first seen, before ckpt's write tracking split any,
    // and the mappings they were seen in.
    std::vector<proc::MapsEntry> hugeMaps;
    std::map<uint64_t, uint64_t> anonHugeKb;
  };
  // Picks the small processes of the tree as it runs; false when every
  // process of it is small.
  bool chooseSmall(pid_t root, uint64_t smallBytes);
  void lookAt(pid_t pid);
  void track(std::vector<FrozenProcess>& processes);
  void copyRounds();
  uint64_t copyRanges(Tracked& t, const std::vector<PageLedger::Range>& ranges);
  Tracked* find(pid_t pid) const;

  image::ImageWriter& writer_;
  bool pageHashes_;
  std::vector<std::unique_ptr<Tracked>> tracked_;
  std::set<pid_t> small_;
  std::map<pid_t, Look> looks_;
  PreCopyStats stats_;
};

}  // namespace ckpt
