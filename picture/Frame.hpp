// A picture of a desktop: 8-bit RGB, row after row, no padding. What a
// snapshot, a thumbnail and the tests' pixel comparisons work on.
#pragma once

#include <cstdint>
#include <vector>

namespace ckpt::picture {

struct Frame {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes

  bool operator==(const Frame&) const = default;

  // The same picture, at most maxWidth wide (aspect kept; every output
  // pixel the mean of the source pixels it covers). A copy when already narrow.
  Frame scaledToWidth(int maxWidth) const;
};

}  // namespace ckpt::picture
