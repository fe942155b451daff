#include "picture/Frame.hpp"

#include <algorithm>

namespace ckpt::picture {

Frame Frame::scaledToWidth(int maxWidth) const {
  if (width <= maxWidth || width == 0 || height == 0) return *this;
  Frame out;
  out.width = maxWidth;
  out.height = std::max(1, int(int64_t(height) * maxWidth / width));
  out.rgb.resize(size_t(out.width) * out.height * 3);
  for (int oy = 0; oy < out.height; ++oy) {
    const int y0 = int(int64_t(oy) * height / out.height);
    const int y1 = std::max(y0 + 1, int(int64_t(oy + 1) * height / out.height));
    for (int ox = 0; ox < out.width; ++ox) {
      const int x0 = int(int64_t(ox) * width / out.width);
      const int x1 = std::max(x0 + 1, int(int64_t(ox + 1) * width / out.width));
      uint64_t sum[3] = {0, 0, 0};
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
          for (int c = 0; c < 3; ++c) sum[c] += rgb[(size_t(y) * width + x) * 3 + c];
      const uint64_t n = uint64_t(y1 - y0) * (x1 - x0);
      for (int c = 0; c < 3; ++c)
        out.rgb[(size_t(oy) * out.width + ox) * 3 + c] = uint8_t((sum[c] + n / 2) / n);
    }
  }
  return out;
}

}  // namespace ckpt::picture
