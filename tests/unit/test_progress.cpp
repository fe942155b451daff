// The text of the progress line shown on a terminal during long dumps and restores.
#include <gtest/gtest.h>

#include "core/util/Progress.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

TEST(ProgressLine, BytesRateAndTimeLeft) {
  EXPECT_EQ(progressLine("dump", 512 * kMiB, 1024 * kMiB, 0.5),
            "dump: 512.0 / 1024.0 MiB, 1.07 GB/s, 0.5 s left");
}

TEST(ProgressLine, NothingDoneYetHasNoRate) {
  EXPECT_EQ(progressLine("restore", 0, 64 * kMiB, 1.0), "restore: 0.0 / 64.0 MiB");
}

TEST(ProgressLine, DoneBeyondTheTotalShowsNoTimeLeft) {
  EXPECT_EQ(progressLine("dump", 2 * kMiB, kMiB, 1.0), "dump: 2.0 / 2.0 MiB, 0.00 GB/s");
}

TEST(Progress, SilentWhenNotShown) {
  // Nothing to see, but it must start and stop cleanly at once.
  Progress p("dump", false);
  p.addTotal(kMiB);
  p.advance(kMiB);
}

}  // namespace
}  // namespace ckpt
