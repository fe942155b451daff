// Matching the frozen maps against the ones read before; pure, unit-tested.
#include "core/mem/VmFlagsCarry.hpp"

#include <sys/mman.h>

#include <algorithm>

namespace ckpt {
namespace {

bool sameMapping(const proc::MapsEntry& a, const proc::MapsEntry& b) {
  return a.start == b.start && a.end == b.end && a.prot == b.prot && a.shared == b.shared &&
         a.offset == b.offset && a.dev == b.dev && a.inode == b.inode && a.path == b.path &&
         a.deleted == b.deleted;
}

bool sameObject(const proc::MapsEntry& a, const proc::MapsEntry& b) {
  return a.shared == b.shared && a.dev == b.dev && a.inode == b.inode && a.path == b.path &&
         a.deleted == b.deleted;
}

std::vector<std::string> withProt(std::vector<std::string> flags, int prot) {
  std::erase_if(
      flags, [](const std::string& f) { return f == "rd" || f == "wr" || f == "ex" || f == "uw"; });
  std::vector<std::string> access;
  if (prot & PROT_READ) access.push_back("rd");
  if (prot & PROT_WRITE) access.push_back("wr");
  if (prot & PROT_EXEC) access.push_back("ex");
  flags.insert(flags.begin(), access.begin(), access.end());
  return flags;
}

}  // namespace

std::optional<VmFlagsMap> carryVmFlags(const std::vector<proc::MapsEntry>& before,
                                       const VmFlagsMap& beforeFlags,
                                       const std::vector<proc::MapsEntry>& now) {
  auto flagsOf = [&](const proc::MapsEntry& m) {
    auto it = beforeFlags.find(m.start);
    return it == beforeFlags.end() ? std::vector<std::string>{} : it->second;
  };
  VmFlagsMap out;
  for (const auto& m : now) {
    auto same = std::find_if(before.begin(), before.end(),
                             [&](const proc::MapsEntry& b) { return sameMapping(b, m); });
    if (same != before.end()) {
      out[m.start] = withProt(flagsOf(*same), m.prot);
      continue;
    }
    if (m.shared) return std::nullopt;
    auto from = std::find_if(before.begin(), before.end(), [&](const proc::MapsEntry& b) {
      return sameObject(b, m) && b.start < m.end && m.start < b.end;
    });
    if (from != before.end()) {
      out[m.start] = withProt(flagsOf(*from), m.prot);
      continue;
    }
    // A fresh private mapping: may-read/write/exec, and "ac" (accountable) when it is writable.
    std::vector<std::string> fresh{"mr", "mw", "me"};
    if (m.prot & PROT_WRITE) fresh.push_back("ac");
    out[m.start] = withProt(fresh, m.prot);
  }
  return out;
}

}  // namespace ckpt

namespace ckpt {

std::set<uint64_t> carryAnonHuge(const std::vector<proc::MapsEntry>& before,
                                 const std::map<uint64_t, uint64_t>& beforeHugeKb,
                                 const std::vector<proc::MapsEntry>& now) {
  std::set<uint64_t> out;
  for (const auto& m : now) {
    if (m.shared || (!m.path.empty() && m.path[0] != '[')) continue;
    for (const auto& b : before) {
      if (b.end <= m.start || m.end <= b.start || b.shared || b.inode != m.inode) continue;
      auto it = beforeHugeKb.find(b.start);
      if (it != beforeHugeKb.end() && it->second > 0) {
        out.insert(m.start);
        break;
      }
    }
  }
  return out;
}

}  // namespace ckpt
