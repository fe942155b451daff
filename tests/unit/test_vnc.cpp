// vnc/: the pure parts (addresses, Xvnc command lines, scaling) and PNG
// files through libpng, without any server.
#include <gtest/gtest.h>

#include <string>

#include "core/util/Error.hpp"
#include "picture/Frame.hpp"
#include "picture/Png.hpp"
#include "vnc/desktop/Desktop.hpp"
#include "vnc/rfb/Address.hpp"

namespace ckpt::vnc {
namespace {

using namespace std::string_literals;

TEST(VncAddress, DisplayHostPortAndUnixSocket) {
  Address a = parseAddress(":3");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 5903);
  a = parseAddress("example.org:5999");
  EXPECT_EQ(a.host, "example.org");
  EXPECT_EQ(a.port, 5999);
  a = parseAddress("[::1]:5901");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, 5901);
  a = parseAddress("/tmp/ckpt-vnc-x/rfb.sock");
  EXPECT_EQ(a.unixPath, "/tmp/ckpt-vnc-x/rfb.sock");
  EXPECT_EQ(a.describe(), "/tmp/ckpt-vnc-x/rfb.sock");
  for (const char* bad : {"", "host", ":x", "host:0", "host:70000", ":-1", ":99999"})
    EXPECT_THROW(parseAddress(bad), Error) << bad;
}

TEST(VncXvncCmdline, FindsTheRfbSocket) {
  EXPECT_EQ(rfbSocketOfXvnc("Xvnc\0:5\0-displayfd\0"
                            "3\0-rfbunixpath\0/tmp/d/rfb.sock\0"s),
            "/tmp/d/rfb.sock");
  EXPECT_EQ(rfbSocketOfXvnc("/usr/bin/Xvnc\0-rfbunixpath\0/x\0"s), "/x");
  EXPECT_EQ(rfbSocketOfXvnc("Xvnc\0:5\0-rfbport\0"
                            "5905\0"s),
            "")
      << "no unix socket";
  EXPECT_EQ(rfbSocketOfXvnc("Xvfb\0-rfbunixpath\0/x\0"s), "") << "not Xvnc";
  EXPECT_EQ(rfbSocketOfXvnc("Xvnc\0-rfbunixpath"s), "") << "no value";
  EXPECT_EQ(rfbSocketOfXvnc(""), "");
}

picture::Frame checkerboard(int w, int h) {
  picture::Frame f{w, h, std::vector<uint8_t>(size_t(w) * h * 3)};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) f.rgb[(size_t(y) * w + x) * 3 + c] = ((x + y) % 2) ? 200 : 0;
  return f;
}

TEST(VncFrame, ScaledKeepsAspectAndAverages) {
  picture::Frame f = checkerboard(1024, 768);
  picture::Frame t = f.scaledToWidth(320);
  EXPECT_EQ(t.width, 320);
  EXPECT_EQ(t.height, 240);
  ASSERT_EQ(t.rgb.size(), size_t(320 * 240 * 3));
  // Every output pixel covers a few whole squares of the board: about mid-grey.
  for (uint8_t v : t.rgb) EXPECT_NEAR(v, 100, 15);
  EXPECT_EQ(f.scaledToWidth(2000), f) << "already narrow: unchanged";
}

TEST(VncPng, RoundTrip) {
  picture::Frame f = checkerboard(37, 21);
  f.rgb[5] = 17;
  std::string png = picture::encodePng(f);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_EQ(picture::decodePng(png, "mem"), f);
}

TEST(VncPng, RefusesWhatIsNotAPng) {
  EXPECT_THROW(picture::decodePng("hello", "x.png"), Error);
  std::string png = picture::encodePng(checkerboard(8, 8));
  EXPECT_THROW(picture::decodePng(png.substr(0, png.size() / 2), "cut.png"), Error);
  EXPECT_THROW(picture::encodePng(picture::Frame{}), Error);
}

}  // namespace
}  // namespace ckpt::vnc
