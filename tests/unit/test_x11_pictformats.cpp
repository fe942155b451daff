// RENDER picture formats across servers that number them differently: the
// QueryPictFormats reply parsed and rewritten (formats, fallbacks, the
// visuals' formats), formats matched by what they describe (indexed ones by
// their visual), and PICTFORMAT fields of requests and replies translated.
#include <gtest/gtest.h>

#include <vector>

#include "x11proxy/proto/PictFormats.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::array<std::uint16_t, 8> kArgb32{16, 0xff, 8, 0xff, 0, 0xff, 24, 0xff};
constexpr std::array<std::uint16_t, 8> kRgb24{16, 0xff, 8, 0xff, 0, 0xff, 0, 0};
constexpr std::array<std::uint16_t, 8> kA8{0, 0, 0, 0, 0, 0, 0, 0xff};

// A QueryPictFormats reply: `formats`, then one screen with `fallback` and
// one depth whose visuals are (visual, format) pairs.
std::vector<std::uint8_t> reply(const std::vector<PictFormat>& formats, std::uint32_t fallback,
                                std::uint8_t depth,
                                const std::vector<std::pair<std::uint32_t, std::uint32_t>>& vis) {
  std::vector<std::uint8_t> m(32, 0);
  m[0] = 1;
  put32(&m[8], std::uint32_t(formats.size()));
  put32(&m[12], 1);
  put32(&m[16], 1);
  put32(&m[20], std::uint32_t(vis.size()));
  auto u32 = [&](std::uint32_t v) {
    m.resize(m.size() + 4);
    put32(&m[m.size() - 4], v);
  };
  for (const auto& f : formats) {
    u32(f.id);
    m.insert(m.end(), {f.type, f.depth, 0, 0});
    for (auto v : f.direct) {
      m.resize(m.size() + 2);
      put16(&m[m.size() - 2], v);
    }
    u32(f.colormap);
  }
  u32(1);  // depths
  u32(fallback);
  m.insert(m.end(), {depth, 0, std::uint8_t(vis.size()), 0, 0, 0, 0, 0});
  for (auto [v, f] : vis) {
    u32(v);
    u32(f);
  }
  put32(&m[4], std::uint32_t((m.size() - 32) / 4));
  return m;
}

ServerView eightBit(std::uint32_t pseudo, std::uint32_t trueColor) {
  ServerView v;
  v.visuals.push_back({pseudo, 8, 3, 8, 256, 0, 0, 0});
  v.visuals.push_back({trueColor, 8, 4, 8, 8, 0xe0, 0x1c, 0x3});
  return v;
}

// The first server: a8, argb32, rgb24, an indexed format for its PseudoColor visual.
std::vector<PictFormat> firstServer() {
  return {{0x23, 1, 8, kA8, 0, 0},
          {0x24, 1, 32, kArgb32, 0, 0},
          {0x25, 1, 24, kRgb24, 0, 0},
          {0x26, 0, 8, {}, 0x20, 0x21}};
}
// The second: the same formats numbered otherwise, an extra one first, and
// two indexed formats (the PseudoColor one second).
std::vector<PictFormat> secondServer() {
  return {{0x40, 1, 16, {11, 0x1f, 5, 0x3f, 0, 0x1f, 0, 0}, 0, 0},
          {0x41, 1, 24, kRgb24, 0, 0},
          {0x42, 0, 8, {}, 0x30, 0x52},
          {0x43, 1, 32, kArgb32, 0, 0},
          {0x44, 0, 8, {}, 0x31, 0x51},
          {0x45, 1, 8, kA8, 0, 0}};
}

TEST(X11PictFormats, ParsedWithTheVisualsOfIndexedFormats) {
  auto m = reply(firstServer(), 0x24, 8, {{0x21, 0x26}, {0x22, 0x25}});
  auto formats = parsePictFormats(m);
  ASSERT_EQ(formats.size(), 4u);
  EXPECT_EQ(formats[1].id, 0x24u);
  EXPECT_EQ(formats[1].depth, 32);
  EXPECT_EQ(formats[1].direct, kArgb32);
  EXPECT_EQ(formats[3].type, 0);
  EXPECT_EQ(formats[3].colormap, 0x20u);
  EXPECT_EQ(formats[3].visual, 0x21u);
  EXPECT_EQ(formats[0].visual, 0u);
  // Truncated: nothing rather than garbage.
  m.resize(m.size() - 10);
  EXPECT_TRUE(parsePictFormats(m).empty());
}

TEST(X11PictFormats, MatchedByShapeAndIndexedOnesByTheirVisual) {
  auto map =
      matchPictFormats(firstServer(), eightBit(0x21, 0x22), secondServer(), eightBit(0x51, 0x52));
  EXPECT_EQ(map.at(0x23), 0x45u);
  EXPECT_EQ(map.at(0x24), 0x43u);
  EXPECT_EQ(map.at(0x25), 0x41u);
  // 0x42 is indexed too but serves the TrueColor visual: 0x44 serves PseudoColor.
  EXPECT_EQ(map.at(0x26), 0x44u);

  // A server without an argb32 format: that one is left out.
  auto fewer = secondServer();
  fewer.erase(fewer.begin() + 3);
  auto partial = matchPictFormats(firstServer(), eightBit(0x21, 0x22), fewer, eightBit(0x51, 0x52));
  EXPECT_FALSE(partial.count(0x24));
  EXPECT_EQ(partial.at(0x25), 0x41u);
}

TEST(X11PictFormats, TwoAlikeFormatsStayTwo) {
  std::vector<PictFormat> client{{0x23, 1, 8, kA8, 0, 0}, {0x24, 1, 8, kA8, 0, 0}};
  std::vector<PictFormat> server{{0x50, 1, 8, kA8, 0, 0}, {0x51, 1, 8, kA8, 0, 0}};
  auto map = matchPictFormats(client, {}, server, {});
  EXPECT_EQ(map.at(0x23), 0x50u);
  EXPECT_EQ(map.at(0x24), 0x51u);
}

TEST(X11PictFormats, TheFormatACreateRequestNames) {
  std::vector<std::uint8_t> createPicture(20, 0), glyphSet(12, 0), fill(16, 0);
  createPicture[1] = 4;
  put32(&createPicture[12], 0x25);
  glyphSet[1] = 17;
  put32(&glyphSet[8], 0x23);
  fill[1] = 33;
  EXPECT_EQ(createdWithFormat(createPicture), 0x25u);
  EXPECT_EQ(createdWithFormat(glyphSet), 0x23u);
  EXPECT_FALSE(createdWithFormat(fill));
}

// A move stops before anything changes when something the client made
// needs a format the new server lacks; formats nothing uses do not matter.
TEST(X11PictFormats, AMissingFormatSomethingUsesIsNamed) {
  std::map<std::uint32_t, RecordedResource> objects;
  std::vector<std::uint8_t> create(20, 0);
  create[1] = 4;
  put32(&create[12], 0x25);
  objects[0x400004].requests.push_back(create);
  std::vector<std::uint8_t> fill(16, 0);
  fill[1] = 33;  // CreateSolidFill: no format
  objects[0x400005].requests.push_back(fill);
  EXPECT_EQ(missingPictFormat(objects, firstServer(), {{0x25, 0x41}}), "");
  EXPECT_EQ(missingPictFormat(objects, firstServer(), {{0x24, 0x43}}),
            "no picture format like 0x25 (direct, depth 24) that the client's picture 0x400004 "
            "uses");
}

class PictFormatTranslation : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = eightBit(0x21, 0x22);
    client_.idBase = 0x400000;
    client_.idMask = 0x1fffff;
    client_.defaultColormap = 0x20;
    server_ = eightBit(0x51, 0x52);
    server_.idBase = 0x600000;
    server_.idMask = 0x1fffff;
    server_.defaultColormap = 0x31;
    t_.attach(client_, server_, {}, {{"RENDER", findExtension("RENDER"), 139, 150, 0, 0, 0, 0}},
              69);
    t_.setPictFormats(matchPictFormats(firstServer(), client_, secondServer(), server_));
  }
  const RequestLayout* render(unsigned minor) {
    return findRequest(*findExtension("RENDER"), minor);
  }
  ServerView client_, server_;
  Translator t_;
};

TEST_F(PictFormatTranslation, RequestsNameTheServersFormats) {
  // CreatePicture: pid, drawable, format, value mask.
  std::vector<std::uint8_t> create(20, 0);
  create[0] = 139;
  create[1] = 4;
  put16(&create[2], 5);
  put32(&create[4], 0x400010);
  put32(&create[8], 0x400001);
  put32(&create[12], 0x25);
  t_.request(create, render(4));
  EXPECT_EQ(create[0], 150);
  EXPECT_EQ(get32(&create[4]), 0x600010u);
  EXPECT_EQ(get32(&create[12]), 0x41u);

  // CompositeGlyphs8: op, src, dst, mask format, glyph set, src x, src y.
  std::vector<std::uint8_t> glyphs(28, 0);
  glyphs[0] = 139;
  glyphs[1] = 23;
  put16(&glyphs[2], 7);
  put32(&glyphs[16], 0x23);
  t_.request(glyphs, render(23));
  EXPECT_EQ(get32(&glyphs[16]), 0x45u);

  // Trapezoids' mask format, CreateGlyphSet's format, QueryPictIndexValues' format.
  std::vector<std::uint8_t> traps(24, 0);
  traps[0] = 139;
  traps[1] = 10;
  put16(&traps[2], 6);
  put32(&traps[16], 0x24);
  t_.request(traps, render(10));
  EXPECT_EQ(get32(&traps[16]), 0x43u);
  std::vector<std::uint8_t> set(12, 0);
  set[0] = 139;
  set[1] = 17;
  put16(&set[2], 3);
  put32(&set[8], 0x23);
  t_.request(set, render(17));
  EXPECT_EQ(get32(&set[8]), 0x45u);
  std::vector<std::uint8_t> index(8, 0);
  index[0] = 139;
  index[1] = 2;
  put16(&index[2], 2);
  put32(&index[4], 0x26);
  t_.request(index, render(2));
  EXPECT_EQ(get32(&index[4]), 0x44u);
}

TEST_F(PictFormatTranslation, QueryPictFormatsAnswersInTheClientsNumbers) {
  auto m = reply(secondServer(), 0x43, 8, {{0x51, 0x44}, {0x52, 0x42}});
  t_.reply(m, render(1));
  auto seen = parsePictFormats(m);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[5].id, 0x23u);  // a8
  EXPECT_EQ(seen[3].id, 0x24u);  // argb32
  EXPECT_EQ(seen[1].id, 0x25u);  // rgb24
  EXPECT_EQ(seen[4].id, 0x26u);  // indexed, PseudoColor
  EXPECT_EQ(seen[4].visual, 0x21u);
  EXPECT_EQ(seen[4].colormap, 0x20u);  // the default colormap, in the client's view
  // Formats the client never saw get numbers of their own, none of the client's.
  for (std::size_t i : {0u, 2u}) {
    EXPECT_GT(seen[i].id, 0x26u);
    EXPECT_EQ(t_.formatToServer(seen[i].id), secondServer()[i].id);
  }
  EXPECT_NE(seen[0].id, seen[2].id);
  // The screen's fallback, in the client's numbers.
  std::size_t fallbackAt = 32 + 6 * 28 + 4;
  EXPECT_EQ(get32(&m[fallbackAt]), 0x24u);
}

}  // namespace
}  // namespace ckpt::x11
