// PendingPages: what a lazy restore still owes an address space, through
// faults, background runs, madvise/munmap (erase) and mremap (move).
#include <gtest/gtest.h>

#include "core/restore/PendingPages.hpp"

namespace ckpt {
namespace {

constexpr uint64_t P = 4096;

PendingPages oneRun(uint64_t addr, uint64_t pages, uint64_t offset = 0) {
  PendingPages pp;
  pp.add({addr, pages * P, nullptr, offset});
  return pp;
}

TEST(PendingPages, TakeReturnsTheWindowAroundAFaultAndKeepsTheRest) {
  auto pp = oneRun(0x10000, 16, 1000 * P);
  auto piece = pp.take(0x10000 + 5 * P, 0x10000 + 4 * P, 0x10000 + 8 * P);
  ASSERT_TRUE(piece);
  EXPECT_EQ(piece->addr, 0x10000 + 4 * P);
  EXPECT_EQ(piece->len, 4 * P);
  EXPECT_EQ(piece->offset, 1004 * P);
  EXPECT_EQ(pp.bytes(), 12 * P);
  EXPECT_FALSE(pp.contains(0x10000 + 5 * P));
  EXPECT_TRUE(pp.contains(0x10000 + 3 * P));
  EXPECT_TRUE(pp.contains(0x10000 + 8 * P));
  EXPECT_FALSE(pp.take(0x10000 + 6 * P, 0, ~0ull)) << "taken twice";
}

TEST(PendingPages, TakeFirstStopsAtTheAlignment) {
  auto pp = oneRun(0x200000 - 2 * P, 8);
  auto a = pp.takeFirst(0x200000);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->addr, 0x200000 - 2 * P);
  EXPECT_EQ(a->len, 2 * P);
  auto b = pp.takeFirst(0x200000);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->addr, 0x200000u);
  EXPECT_EQ(b->len, 6 * P);
  EXPECT_TRUE(pp.empty());
  EXPECT_EQ(pp.bytes(), 0u);
}

TEST(PendingPages, EraseDropsZappedPagesOnly) {
  auto pp = oneRun(0x10000, 16);
  pp.erase(0x10000 + 2 * P, 0x10000 + 4 * P);
  EXPECT_FALSE(pp.contains(0x10000 + 2 * P));
  EXPECT_FALSE(pp.contains(0x10000 + 3 * P));
  EXPECT_TRUE(pp.contains(0x10000 + 1 * P));
  EXPECT_TRUE(pp.contains(0x10000 + 4 * P));
  EXPECT_EQ(pp.bytes(), 14 * P);
}

TEST(PendingPages, MoveCarriesPagesAndTheirSourceOffsets) {
  auto pp = oneRun(0x10000, 8, 50 * P);
  pp.add({0x900000, 2 * P, nullptr, 0});  // where the move lands: unmapped by it
  pp.move(0x10000 + 4 * P, 0x900000, 4 * P);
  EXPECT_FALSE(pp.contains(0x10000 + 4 * P));
  EXPECT_TRUE(pp.contains(0x10000 + 3 * P));
  auto moved = pp.take(0x900000 + P, 0, ~0ull);
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->addr, 0x900000u);
  EXPECT_EQ(moved->len, 4 * P);
  EXPECT_EQ(moved->offset, 54 * P);
  EXPECT_EQ(pp.bytes(), 4 * P);
}

TEST(PendingPages, ACopyIsIndependent) {
  auto parent = oneRun(0x10000, 4);
  PendingPages child = parent;
  parent.take(0x10000, 0, ~0ull);
  EXPECT_TRUE(parent.empty());
  EXPECT_EQ(child.bytes(), 4 * P);
}

}  // namespace
}  // namespace ckpt
