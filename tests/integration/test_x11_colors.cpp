// Moving a client between 8-bit Xvfbs whose default visual is PseudoColor:
// its colours get other pixel values on the new server (another client took
// the first free cells there), and it still looks the same, colour for colour.
#include <gtest/gtest.h>

#include <string>
#include <vector>

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

// xlogo moved live, then a digital xclock (Xft text) through an image.
TEST_F(X11PseudoColor, ClientsKeepTheirColoursWhereTheyHaveOtherPixels) {
  display_ = startXvfb("320x240x8");
  other_ = startXvfb("320x240x8");
  ASSERT_FALSE(display_.empty() || other_.empty()) << h.log();
  auto visual = onDisplay(other_, {"xdpyinfo"});
  ASSERT_NE(visual.out.find("class:    PseudoColor"), std::string::npos) << visual.out;
  // Another client takes the first free cells of the second server's
  // colormap: colours outside the cube RENDER keeps there (both servers
  // share that one).
  h.spawn({"/usr/bin/env", "DISPLAY=:" + other_, systemProgram("xmessage"), "-bg", "#123456", "-fg",
           "#654321", "-geometry", "+200+0", "taken"},
          Ready::Exec);
  ASSERT_FALSE(waitWindowOn(other_, "xmessage").empty());

  const std::vector<std::string> colours{"-bg", "#a01010", "-fg", "#1010a0", "-geometry", "+0+0"};
  for (const std::string name : {"xlogo", "xclock"}) {
    SCOPED_TRACE(name);
    std::vector<std::string> argv{systemProgram(name)};
    if (name == "xclock")
      argv.insert(argv.end(), {"-digital", "-strftime", "%Y", "-update", "3600"});
    argv.insert(argv.end(), colours.begin(), colours.end());
    startProxied(argv);
    std::string id = waitWindow(name);
    ASSERT_FALSE(id.empty());
    std::string raw = stablePixels(id);
    std::string before = rgbOn(display_, id);
    ASSERT_NE(before.find(std::string("\xa0\x10\x10", 3)), std::string::npos) << "no #a01010";

    std::string there;
    if (name == "xlogo") {
      there = moveWindow(name, display_, other_);
    } else {
      std::string image = h.dir() + "/xclock.img";
      ASSERT_NO_FATAL_FAILURE(dumpKill(name, image));
      ASSERT_NO_FATAL_FAILURE(restoreOnOther(image));
      there = waitWindowOn(other_, name);
    }
    ASSERT_FALSE(there.empty()) << h.log();
    EXPECT_TRUE(looksEventually(other_, there, before)) << "the colours differ on :" << other_;
    // The colours really have other pixel values there.
    EXPECT_TRUE(pixelsOn(other_, there) != raw) << "the pixel values are the same on both servers";
    kill(proxy_, SIGTERM);
    h.waitExit(proxy_);
    proxy_ = -1;
    ASSERT_TRUE(waitUntil([&] { return windowIdOn(other_, name).empty(); }));
  }
}

}  // namespace
}  // namespace ckpt::test
