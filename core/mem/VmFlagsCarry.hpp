// The VmFlags of a process's mappings at the freeze, without reading
// /proc/PID/smaps then: smaps walks every page table entry (about 0.1 s per
// GiB of touched memory here), which would be most of the freeze. The flags
// come from an smaps read shortly before, carried over to the mappings the
// frozen /proc/PID/maps shows.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/proc/ProcParsers.hpp"

namespace ckpt {

using VmFlagsMap = std::map<uint64_t, std::vector<std::string>>;

// Flags for every mapping of `now`: those of the same mapping in `before`;
// for a private mapping that was resized, split or re-protected, those of
// the one it came from (same file or anonymous, overlapping), with rd/wr/ex
// as it is now; for a new private mapping, what the kernel gives a fresh
// one. Nothing (read smaps then) when a shared mapping is new or changed:
// its may-write flag, which restore needs, shows nowhere else. "uw" (ckpt's
// own write tracking) is left out.
std::optional<VmFlagsMap> carryVmFlags(const std::vector<proc::MapsEntry>& before,
                                       const VmFlagsMap& beforeFlags,
                                       const std::vector<proc::MapsEntry>& now);

// The private anonymous mappings of `now` (by start) that overlap one of
// `before` whose smaps showed AnonHugePages (`beforeHugeKb`, start -> kB):
// the kernel gave them transparent huge pages, which restore asks for again.
std::set<uint64_t> carryAnonHuge(const std::vector<proc::MapsEntry>& before,
                                 const std::map<uint64_t, uint64_t>& beforeHugeKb,
                                 const std::vector<proc::MapsEntry>& now);

// What smaps would tell at the freeze, known without reading it then.
struct KnownMappings {
  VmFlagsMap flags;
  std::set<uint64_t> anonHuge;  // as carryAnonHuge()
};

}  // namespace ckpt
