// carryVmFlags: VmFlags at the freeze from an smaps read before it.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include "core/mem/VmFlagsCarry.hpp"

namespace ckpt {
namespace {

proc::MapsEntry entry(uint64_t start, uint64_t end, int prot, bool shared = false,
                      std::string path = "", uint64_t inode = 0) {
  proc::MapsEntry m;
  m.start = start;
  m.end = end;
  m.prot = prot;
  m.shared = shared;
  m.path = std::move(path);
  m.inode = inode;
  return m;
}

using Flags = std::vector<std::string>;

TEST(CarryVmFlags, UnchangedMappingsKeepTheirFlagsButUw) {
  std::vector<proc::MapsEntry> before{entry(0x1000, 0x5000, PROT_READ | PROT_WRITE),
                                      entry(0x9000, 0xa000, PROT_READ, true, "/f", 7)};
  VmFlagsMap flags{{0x1000, {"rd", "wr", "mr", "mw", "me", "ac", "hg", "uw"}},
                   {0x9000, {"rd", "sh", "mr", "mw", "me", "ms"}}};
  auto out = carryVmFlags(before, flags, before);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0x1000], (Flags{"rd", "wr", "mr", "mw", "me", "ac", "hg"}));
  EXPECT_EQ((*out)[0x9000], flags[0x9000]);
}

TEST(CarryVmFlags, SplitAndReprotectedPrivateMappingsInherit) {
  std::vector<proc::MapsEntry> before{entry(0x1000, 0x5000, PROT_READ | PROT_WRITE)};
  VmFlagsMap flags{{0x1000, {"rd", "wr", "mr", "mw", "me", "ac", "dd"}}};
  std::vector<proc::MapsEntry> now{entry(0x1000, 0x2000, PROT_READ | PROT_WRITE),
                                   entry(0x2000, 0x6000, PROT_READ)};
  auto out = carryVmFlags(before, flags, now);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0x1000], (Flags{"rd", "wr", "mr", "mw", "me", "ac", "dd"}));
  EXPECT_EQ((*out)[0x2000], (Flags{"rd", "mr", "mw", "me", "ac", "dd"}));
}

TEST(CarryVmFlags, NewPrivateMappingGetsFreshFlags) {
  auto out = carryVmFlags({}, {}, {entry(0x7000, 0x8000, PROT_READ | PROT_WRITE)});
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0x7000], (Flags{"rd", "wr", "mr", "mw", "me", "ac"}));
}

TEST(CarryVmFlags, NewSharedMappingNeedsSmaps) {
  std::vector<proc::MapsEntry> before{entry(0x9000, 0xa000, PROT_READ, true, "/f", 7)};
  VmFlagsMap flags{{0x9000, {"rd", "sh", "mr", "mw", "me", "ms"}}};
  EXPECT_FALSE(carryVmFlags(before, flags, {entry(0x9000, 0xb000, PROT_READ, true, "/f", 7)}));
  EXPECT_FALSE(carryVmFlags({}, {}, {entry(0x9000, 0xa000, PROT_READ, true, "/g", 8)}));
}

TEST(CarryAnonHuge, MappingsOverlappingOneWithHugePages) {
  std::vector<proc::MapsEntry> before{entry(0x200000, 0x800000, PROT_READ | PROT_WRITE),
                                      entry(0x900000, 0xa00000, PROT_READ | PROT_WRITE),
                                      entry(0xb00000, 0xc00000, PROT_READ, false, "/f", 7)};
  std::map<uint64_t, uint64_t> huge{{0x200000, 4096}, {0x900000, 0}, {0xb00000, 2048}};
  // The first split in two, the second unchanged, a file mapping, a new one.
  std::vector<proc::MapsEntry> now{entry(0x200000, 0x400000, PROT_READ | PROT_WRITE),
                                   entry(0x400000, 0x800000, PROT_READ),
                                   entry(0x900000, 0xa00000, PROT_READ | PROT_WRITE),
                                   entry(0xb00000, 0xc00000, PROT_READ, false, "/f", 7),
                                   entry(0xd00000, 0xe00000, PROT_READ | PROT_WRITE)};
  EXPECT_EQ(carryAnonHuge(before, huge, now), (std::set<uint64_t>{0x200000, 0x400000}));
  EXPECT_TRUE(carryAnonHuge(before, {}, now).empty());
}

}  // namespace
}  // namespace ckpt
