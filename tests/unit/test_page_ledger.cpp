// PageLedger: where the latest copy of each page lies while pre-copy copies
// pages again and again. Newer copies replace older ones, pieces cut out of
// a run get a fresh checksum, holes are reported.
#include <gtest/gtest.h>

#include <vector>

#include "core/dump/PageLedger.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

constexpr uint64_t P = image::kPageSize;

image::PageRun data(uint64_t page, uint64_t npages, uint64_t offset, uint64_t xxh3) {
  image::PageRun r;
  r.addr = page * P;
  r.npages = npages;
  r.offset = offset;
  r.xxh3 = xxh3;
  return r;
}

image::PageRun zero(uint64_t page, uint64_t npages) {
  image::PageRun r;
  r.addr = page * P;
  r.npages = npages;
  r.zero = true;
  return r;
}

// A checksum that names the bytes it was asked for.
uint64_t fake(uint64_t offset, uint64_t len) {
  return 1'000'000 + offset * 3 + len;
}

TEST(PageLedger, WholeRunsKeepTheirChecksum) {
  PageLedger l;
  l.record(data(10, 4, 0, 77));
  std::vector<image::PageRun> out;
  l.runs(10 * P, 14 * P, out, fake);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].xxh3, 77u);
  EXPECT_EQ(out[0].offset, 0u);
  EXPECT_EQ(out[0].npages, 4u);
}

TEST(PageLedger, NewerCopyCutsTheOlderRun) {
  PageLedger l;
  l.record(data(10, 4, 0, 77));      // pages 10..13 at file offset 0
  l.record(data(11, 1, 4 * P, 88));  // page 11 again, later in the file
  std::vector<image::PageRun> out;
  l.runs(10 * P, 14 * P, out, fake);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].addr, 10 * P);
  EXPECT_EQ(out[0].npages, 1u);
  EXPECT_EQ(out[0].offset, 0u);
  EXPECT_EQ(out[0].xxh3, fake(0, P));
  EXPECT_EQ(out[1].addr, 11 * P);
  EXPECT_EQ(out[1].offset, 4 * P);
  EXPECT_EQ(out[1].xxh3, 88u);
  EXPECT_EQ(out[2].addr, 12 * P);
  EXPECT_EQ(out[2].npages, 2u);
  EXPECT_EQ(out[2].offset, 2 * P);
  EXPECT_EQ(out[2].xxh3, fake(2 * P, 2 * P));
}

TEST(PageLedger, AskingForPartOfARunCutsIt) {
  PageLedger l;
  l.record(data(0, 8, 0, 5));
  l.record(zero(8, 2));
  std::vector<image::PageRun> out;
  l.runs(6 * P, 9 * P, out, fake);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].addr, 6 * P);
  EXPECT_EQ(out[0].npages, 2u);
  EXPECT_EQ(out[0].offset, 6 * P);
  EXPECT_EQ(out[0].xxh3, fake(6 * P, 2 * P));
  EXPECT_TRUE(out[1].zero);
  EXPECT_EQ(out[1].npages, 1u);
}

TEST(PageLedger, ForgottenPagesAreMissing) {
  PageLedger l;
  l.record(data(0, 10, 0, 5));
  l.forget(2 * P, 4 * P);
  l.forget(9 * P, 12 * P);
  auto m = l.missing(0, 12 * P);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].start, 2 * P);
  EXPECT_EQ(m[0].end, 4 * P);
  EXPECT_EQ(m[1].start, 9 * P);
  EXPECT_EQ(m[1].end, 12 * P);
  std::vector<image::PageRun> out;
  EXPECT_THROW(l.runs(0, 10 * P, out, fake), Error);
  out.clear();
  l.runs(4 * P, 9 * P, out, fake);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].offset, 4 * P);
}

TEST(PageLedger, ARunReplacingSeveralOlderOnes) {
  PageLedger l;
  l.record(data(0, 2, 0, 1));
  l.record(data(2, 2, 2 * P, 2));
  l.record(data(4, 2, 4 * P, 3));
  l.record(data(1, 4, 6 * P, 9));  // pages 1..4
  EXPECT_EQ(l.size(), 3u);
  std::vector<image::PageRun> out;
  l.runs(0, 6 * P, out, fake);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].npages, 1u);
  EXPECT_EQ(out[1].addr, 1 * P);
  EXPECT_EQ(out[1].xxh3, 9u);
  EXPECT_EQ(out[2].addr, 5 * P);
  EXPECT_EQ(out[2].offset, 5 * P);
  EXPECT_TRUE(l.missing(0, 6 * P).empty());
}

TEST(PageLedger, PageHashesFollowTheirPages) {
  PageLedger l;
  l.record(data(0, 4, 0, 5), {1, 2, 3, 4});
  l.record(zero(2, 1));
  l.record(data(1, 1, 4 * P, 6), {9});
  std::vector<image::PageRun> out;
  std::vector<uint64_t> hashes;
  l.runs(0, 4 * P, out, fake, &hashes);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(hashes, (std::vector<uint64_t>{1, 9, 4}));  // zero pages have none
}

}  // namespace
}  // namespace ckpt
