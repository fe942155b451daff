// Moving a client between 8-bit Xvfbs whose default visual is PseudoColor:
// its colours get other pixel values on the new server (another client took
// the first free cells there), and it still looks the same, colour for colour.
#include <gtest/gtest.h>

#include <string>

#include "X11Fixture.hpp"

namespace ckpt::test {
namespace {

class X11PseudoColor : public X11TwoServers {
 protected:
  // The two 8-bit servers are started by the test itself.
  void SetUp() override { X11Proxy::SetUp(); }

  // The window's pixels as the RGB its server's colormap gives them (xwd's
  // colour table), 3 bytes a pixel; "" when xwd could not.
  std::string rgbOn(const std::string& display, const std::string& id) {
    auto r = onDisplay(display, {"xwd", "-id", id, "-silent"});
    const auto* b = reinterpret_cast<const unsigned char*>(r.out.data());
    auto word = [&](std::size_t at) {
      return std::size_t(b[at]) << 24 | b[at + 1] << 16 | b[at + 2] << 8 | b[at + 3];
    };
    if (!r.status.ok() || r.out.size() < 100) return "";
    std::size_t header = word(0), bitsPerPixel = word(11 * 4), stride = word(12 * 4),
                width = word(4 * 4), height = word(5 * 4), colours = word(19 * 4);
    if (bitsPerPixel != 8 || header + colours * 12 + stride * height > r.out.size()) return "";
    std::string rgb[256];
    for (std::size_t i = 0; i < colours; ++i) {
      const unsigned char* c = b + header + i * 12;  // pixel, red, green, blue, flags, pad
      std::size_t pixel = word(header + i * 12);
      if (pixel < 256) rgb[pixel] = {char(c[4]), char(c[6]), char(c[8])};
    }
    std::string out;
    const unsigned char* pixels = b + header + colours * 12;
    for (std::size_t y = 0; y < height; ++y)
      for (std::size_t x = 0; x < width; ++x) out += rgb[pixels[y * stride + x]];
    return out;
  }
  bool looksEventually(const std::string& display, const std::string& id,
                       const std::string& expected) {
    return waitUntil([&] { return rgbOn(display, id) == expected; });
  }
};

TEST_F(X11PseudoColor, XlogoKeepsItsColoursWhereTheyHaveOtherPixels) {
  display_ = startXvfb("320x240x8");
  other_ = startXvfb("320x240x8");
  ASSERT_FALSE(display_.empty() || other_.empty()) << h.log();
  auto visual = onDisplay(other_, {"xdpyinfo"});
  ASSERT_NE(visual.out.find("class:    PseudoColor"), std::string::npos) << visual.out;
  // Another client takes the first free cells of the second server's colormap.
  // Colours outside the cube RENDER keeps in the colormap, which both servers share.
  h.spawn({"/usr/bin/env", "DISPLAY=:" + other_, systemProgram("xlogo"), "-bg", "#123456", "-fg",
           "#654321", "-geometry", "60x60+200+0"},
          Ready::Exec);
  ASSERT_FALSE(waitWindowOn(other_, "xlogo").empty());

  startProxied(
      {systemProgram("xlogo"), "-bg", "#a01010", "-fg", "#1010a0", "-geometry", "100x100+0+0"});
  std::string id = waitWindow("xlogo");
  ASSERT_FALSE(id.empty());
  std::string raw = stablePixels(id);
  std::string before = rgbOn(display_, id);
  ASSERT_FALSE(before.empty());
  ASSERT_NE(before.find(std::string("\xa0\x10\x10", 3)), std::string::npos) << "no #a01010";

  auto r = move(other_);
  ASSERT_TRUE(r.status.ok()) << r.describe() << h.log();
  // Two xlogo windows there now: the moved one is the one of the proxy's client.
  std::string there;
  ASSERT_TRUE(waitUntil([&] {
    auto tree = onDisplay(other_, {"xwininfo", "-root", "-tree"});
    std::size_t at = 0;
    while ((at = tree.out.find("\"xlogo\": (", at)) != std::string::npos) {
      std::size_t start = tree.out.rfind("0x", at);
      std::string wid = tree.out.substr(start, tree.out.find(' ', start) - start);
      at += 1;
      if (tree.out.find("100x100+0+0", at) < tree.out.find('\n', at)) {
        there = wid;
        return true;
      }
    }
    return false;
  })) << "the moved xlogo is not on :"
      << other_;
  EXPECT_TRUE(looksEventually(other_, there, before)) << "xlogo's colours differ on :" << other_;
  // The colours really have other pixel values there.
  EXPECT_TRUE(pixelsOn(other_, there) != raw) << "the pixel values are the same on both servers";
}

}  // namespace
}  // namespace ckpt::test
