// The X11 proxy's view translation after a reattach: resource ids by range,
// the root and default colormap, atoms (new ones get client values of their
// own), visuals by shape, extension opcodes and event bases, property data
// holding atoms; sequence numbers around the proxy's own requests; hidden
// extensions; the replay plan's order.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "x11proxy/proto/SequenceMap.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proto/Wire.hpp"
#include "x11proxy/reattach/FontSubstitutes.hpp"
#include "x11proxy/reattach/Replay.hpp"

namespace ckpt::x11 {
namespace {

ServerView view(std::uint32_t base, std::uint32_t root, std::uint32_t visual) {
  ServerView v;
  v.idBase = base;
  v.idMask = 0x1fffff;
  v.root = root;
  v.defaultColormap = root + 1;
  v.rootVisual = visual;
  v.rootDepth = 24;
  v.visuals.push_back({visual, 24, 4, 8, 256, 0xff0000, 0xff00, 0xff});
  v.visuals.push_back({visual + 1, 24, 5, 8, 256, 0xff0000, 0xff00, 0xff});
  v.formats.push_back({24, 32, 32});
  v.formats.push_back({1, 1, 32});
  return v;
}

std::vector<std::uint8_t> words(std::initializer_list<std::uint32_t> w) {
  std::vector<std::uint8_t> b(w.size() * 4);
  std::size_t i = 0;
  for (auto v : w) put32(&b[4 * i++], v);
  return b;
}

class TranslatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = view(0x400000, 0x100, 0x21);
    server_ = view(0xa00000, 0x200, 0x40);
    std::vector<ExtensionMapping> exts{
        {"RENDER", findExtension("RENDER"), 139, 150, 0, 0, 142, 160},
        {"SHAPE", findExtension("SHAPE"), 129, 131, 64, 70, 0, 0}};
    t_.attach(client_, server_, {{300, 500}, {301, 77}}, exts, 302);
  }
  ServerView client_, server_;
  Translator t_;
};

TEST_F(TranslatorTest, IdsMapByRangeRootAndColormap) {
  EXPECT_EQ(t_.idToServer(0x400005), 0xa00005u);
  EXPECT_EQ(t_.idToClient(0xa00005), 0x400005u);
  EXPECT_EQ(t_.idToServer(0x100), 0x200u);
  EXPECT_EQ(t_.idToClient(0x201), 0x101u);
  EXPECT_EQ(t_.idToServer(0x7777), 0x7777u);  // another client's: as it is
  // Another client's window on the new server, in the range the client
  // believes its own: seen in the proxy connection's range, and back.
  EXPECT_EQ(t_.idToClient(0x400007), 0xa00007u);
  EXPECT_EQ(t_.idToServer(0xa00007), 0x400007u);
}

TEST_F(TranslatorTest, AtomsMapByNameAndNewOnesGetFreshClientValues) {
  EXPECT_EQ(t_.atomToServer(39), 39u);  // predefined
  EXPECT_EQ(t_.atomToServer(300), 500u);
  EXPECT_EQ(t_.atomToClient(77), 301u);
  // 300 is a value the client already knows for another name: a server atom
  // 300 that is new to the client must not come back as 300.
  std::uint32_t fresh = t_.atomToClient(300);
  EXPECT_NE(fresh, 300u);
  EXPECT_NE(fresh, 301u);
  EXPECT_EQ(t_.atomToServer(fresh), 300u);
  EXPECT_EQ(t_.atomToClient(300), fresh);
}

TEST_F(TranslatorTest, CreateWindowRequestIsRewritten) {
  // CreateWindow: depth, wid, parent, x, y, w, h, border, class, visual,
  // mask (background_pixmap | colormap), values.
  std::vector<std::uint8_t> r =
      words({0, 0x400010, 0x100, 0, 0x00010001, 0x00010000, 0x21, 0x2001, 0x400011, 0x101});
  r[0] = 1;
  r[1] = 24;
  put16(&r[2], std::uint16_t(r.size() / 4));
  t_.request(r, findRequest(coreProtocol(), 1));
  EXPECT_EQ(get32(&r[4]), 0xa00010u);
  EXPECT_EQ(get32(&r[8]), 0x200u);
  EXPECT_EQ(get32(&r[24]), 0x40u);  // the visual of the same shape
  EXPECT_EQ(get32(&r[32]), 0xa00011u);
  EXPECT_EQ(get32(&r[36]), 0x201u);
}

TEST_F(TranslatorTest, PropertyDataOfTypeAtomIsRewritten) {
  // ChangeProperty(Replace, window, WM_PROTOCOLS=300, type ATOM, format 32, 2 atoms)
  std::vector<std::uint8_t> r = words({0, 0x400010, 300, 4, 32, 2, 301, 39});
  r[0] = 18;
  put16(&r[2], std::uint16_t(r.size() / 4));
  put32(&r[16], 32);
  t_.request(r, findRequest(coreProtocol(), 18));
  EXPECT_EQ(get32(&r[8]), 500u);
  EXPECT_EQ(get32(&r[24]), 77u);
  EXPECT_EQ(get32(&r[28]), 39u);
}

TEST_F(TranslatorTest, ExtensionOpcodesEventsAndErrors) {
  std::vector<std::uint8_t> req = words({0, 0});
  req[0] = 139;  // RENDER QueryVersion
  put16(&req[2], 2);
  t_.request(req, nullptr);
  EXPECT_EQ(req[0], 150);

  std::vector<std::uint8_t> ev(32, 0);
  ev[0] = 70;  // SHAPE Notify on the server: the client's base is 64
  put32(&ev[4], 0xa00010);
  t_.event(ev, false);
  EXPECT_EQ(ev[0], 64);
  EXPECT_EQ(get32(&ev[4]), 0x400010u);

  std::vector<std::uint8_t> err(32, 0);
  err[1] = 161;  // RENDER's second error
  err[10] = 150;
  t_.error(err);
  EXPECT_EQ(err[1], 143);
  EXPECT_EQ(err[10], 139);
}

// Pixel values of a default colormap that hands them out (PseudoColor): the
// client's pixels become the new server's in GCs, windows, colour requests
// and 8-bit images; pixels the server gives later come back in values the
// client does not use for anything else.
TEST_F(TranslatorTest, PixelsOfADefaultColormapThatHandsThemOut) {
  client_.rootDepth = 8;
  t_.attach(client_, server_, {}, {}, 69);
  t_.setPixels({{2, 5}, {3, 6}}, 256);
  // CreateGC: gc, drawable, mask (function 0x1 | foreground 0x4 | background 0x8).
  std::vector<std::uint8_t> gc = words({0, 0x400010, 0x400001, 0xd, 3, 2, 3});
  gc[0] = 55;
  put16(&gc[2], std::uint16_t(gc.size() / 4));
  t_.request(gc, findRequest(coreProtocol(), 55));
  EXPECT_EQ(get32(&gc[16]), 3u);  // the function, not a pixel
  EXPECT_EQ(get32(&gc[20]), 5u);
  EXPECT_EQ(get32(&gc[24]), 6u);
  // ChangeWindowAttributes: background pixel 0x2, border pixel 0x8.
  std::vector<std::uint8_t> cw = words({0, 0x400010, 0xa, 3, 9});
  cw[0] = 2;
  put16(&cw[2], std::uint16_t(cw.size() / 4));
  t_.request(cw, findRequest(coreProtocol(), 2));
  EXPECT_EQ(get32(&cw[12]), 6u);
  EXPECT_EQ(get32(&cw[16]), 9u);  // not one the client was given: as it is
  // PutImage ZPixmap of depth 8: every byte a pixel.
  std::vector<std::uint8_t> image =
      words({0, 0x400010, 0x400011, 0x00010004, 0, 0x0800, 0x09030302});
  image[0] = 72;
  image[1] = 2;
  put16(&image[2], std::uint16_t(image.size() / 4));
  t_.request(image, findRequest(coreProtocol(), 72));
  EXPECT_EQ(get32(&image[24]), 0x09060605u);
  // A bitmap (depth 1) is not pixels of the colormap.
  image[21] = 1;
  put32(&image[24], 0x09030302);
  t_.request(image, findRequest(coreProtocol(), 72));
  EXPECT_EQ(get32(&image[24]), 0x09030302u);

  // StoreColors: the default colormap's pixels are mapped, a colormap of the
  // client's own keeps its values.
  for (std::uint32_t cmap : {0x101u, 0x400020u}) {
    std::vector<std::uint8_t> store = words({0, cmap, 2, 0xffff0000, 0x0700ffff});
    store[0] = 89;
    put16(&store[2], std::uint16_t(store.size() / 4));
    t_.request(store, findRequest(coreProtocol(), 89));
    EXPECT_EQ(get32(&store[8]), cmap == 0x101 ? 5u : 2u) << std::hex << cmap;
  }

  // AllocColor's reply: pixel at 16. Server pixel 5 is the client's 2; server
  // pixel 2 is new, but the client's 2 means 5: it gets a value of its own.
  std::vector<std::uint8_t> reply(32, 0);
  reply[0] = 1;
  put32(&reply[16], 5);
  t_.reply(reply, findRequest(coreProtocol(), 84));
  EXPECT_EQ(get32(&reply[16]), 2u);
  put32(&reply[16], 2);
  t_.reply(reply, findRequest(coreProtocol(), 84));
  std::uint32_t fresh = get32(&reply[16]);
  EXPECT_NE(fresh, 2u);
  EXPECT_NE(fresh, 3u);
  EXPECT_LT(fresh, 256u);
  EXPECT_EQ(t_.pixelToServer(fresh), 2u);
  put32(&reply[16], 7);  // unused on both sides: itself
  t_.reply(reply, findRequest(coreProtocol(), 84));
  EXPECT_EQ(get32(&reply[16]), 7u);

  // A ZPixmap image read back (GetImage, depth 8): the client's values.
  std::vector<std::uint8_t> got = words({0, 1, 0, 0, 0, 0, 0, 0, 0x07060505});
  got[0] = 1;
  got[1] = 8;
  t_.zPixmapImageReply(got);
  EXPECT_EQ(get32(&got[32]), 0x07030202u);
}

TEST(SequenceMap, ProxyRequestsAreHiddenFromTheClient) {
  SequenceMap s;
  s.clientRequest();  // 1
  s.clientRequest();  // 2
  EXPECT_TRUE(s.identity());
  std::uint64_t own = s.proxyRequest();  // server 3
  EXPECT_EQ(own, 3u);
  s.clientRequest();  // client 3 = server 4
  auto o = s.lookup(3);
  EXPECT_TRUE(o.proxy);
  EXPECT_EQ(o.client, 2);  // an event there shows the client's last number
  o = s.lookup(4);
  EXPECT_FALSE(o.proxy);
  EXPECT_EQ(o.client, 3);
}

TEST(SequenceMap, ANewServerCountsOnFromTheProxysRequests) {
  SequenceMap s;
  for (int i = 0; i < 70000; ++i) s.clientRequest();  // past a 16-bit wrap
  s.newServer(5);
  s.proxyRequest();      // server 6: the replay
  s.clientRequest();     // client 70001 = server 7
  auto o = s.lookup(6);  // messages come in order
  EXPECT_TRUE(o.proxy);
  EXPECT_EQ(o.client, std::uint16_t(70000));
  o = s.lookup(7);
  EXPECT_FALSE(o.proxy);
  EXPECT_EQ(o.client, std::uint16_t(70001));
}

TEST(HiddenExtensions, QueryAndListOnlyShowWhatTheProxyCarries) {
  std::string name = "MIT-SHM";
  std::vector<std::uint8_t> q(8 + 8, 0);
  q[0] = 98;
  put16(&q[4], std::uint16_t(name.size()));
  std::copy(name.begin(), name.end(), q.begin() + 8);
  Translator::hideInQueryExtension(q);
  EXPECT_NE(std::string(q.begin() + 8, q.begin() + 15), name);
  EXPECT_FALSE(extensionCarried("MIT-SHM"));
  EXPECT_TRUE(extensionCarried("RENDER"));

  std::vector<std::uint8_t> list(32, 0);
  list[0] = 1;
  for (std::string n : {"MIT-SHM", "RENDER", "XKEYBOARD", "SHAPE"}) {
    list.push_back(std::uint8_t(n.size()));
    list.insert(list.end(), n.begin(), n.end());
  }
  list.resize((list.size() + 3) & ~std::size_t(3));
  list[1] = 4;
  std::size_t size = Translator::hideInListExtensions(list);
  EXPECT_EQ(list[1], 2);
  EXPECT_EQ(size % 4, 0u);
  EXPECT_EQ(std::string(list.begin() + 33, list.begin() + 39), "RENDER");
  EXPECT_EQ(std::string(list.begin() + 40, list.begin() + 45), "SHAPE");
  EXPECT_EQ(get32(&list[4]), (size - 32) / 4);
}

TEST(Replay, ParentsBeforeChildrenPixmapsWithContentsAndMapLast) {
  ClientModel m;
  ServerView v = view(0x400000, 0x100, 0x21);
  Window top;
  top.id = 0x400002;
  top.parent = 0x100;
  top.width = top.height = 10;
  top.mapped = true;
  top.order = 2;
  Window child = top;
  child.id = 0x400001;  // a lower id, made later: still after its parent
  child.parent = top.id;
  child.order = 3;
  m.windows[top.id] = top;
  m.windows[child.id] = child;
  m.pixmaps[0x400003] = Pixmap{0x400003, 0x100, 24, 2, 2};
  FetchedState f;
  f.server = v;
  f.pixmapImages[0x400003] = std::vector<std::uint8_t>(2 * 2 * 4, 0xab);
  ReplayPlan plan = planReplay({m, v, f, v});
  auto at = [&](std::uint8_t op, std::uint32_t id) {
    for (std::size_t i = 0; i < plan.requests.size(); ++i)
      if (plan.requests[i][0] == op && get32(&plan.requests[i][4]) == id) return int(i);
    return -1;
  };
  ASSERT_GE(at(53, 0x400003), 0);             // CreatePixmap
  EXPECT_GE(at(1, top.id), 0);                // CreateWindow
  EXPECT_LT(at(1, top.id), at(1, child.id));  // parent first
  EXPECT_LT(at(8, child.id), at(8, top.id));  // map: child first, the top last
  EXPECT_GT(at(8, child.id), at(1, child.id));
  bool putImage = std::any_of(plan.requests.begin(), plan.requests.end(),
                              [](const auto& r) { return r[0] == 72 && r.size() == 24 + 16; });
  EXPECT_TRUE(putImage) << "no PutImage with the pixmap's 16 bytes";
  EXPECT_TRUE(plan.warnings.empty());
}

TEST(Replay, BigRequestsGetTheLongLengthOnTheWire) {
  std::vector<std::uint8_t> big(300000, 0);
  big[0] = 72;
  auto wire = encodeRequest(big);
  EXPECT_EQ(get16(&wire[2]), 0);
  EXPECT_EQ(get32(&wire[4]), 300000u / 4 + 1);
  EXPECT_EQ(wire.size(), 300004u);
  auto small = encodeRequest(std::vector<std::uint8_t>(8, 0));
  EXPECT_EQ(get16(&small[2]), 2);
}

// A missing font's stand-ins, nearest first: foundry widened first, the
// pixel size and charset last, then "fixed"; a name that is not XLFD only
// has "fixed".
TEST(X11FontSubstitutes, WidenTheNameFieldByField) {
  auto p = widerFontPatterns("-misc-fixed-bold-r-normal--15-140-75-75-c-90-iso8859-1");
  ASSERT_EQ(p.size(), 15u);
  EXPECT_EQ(p.front(), "-*-fixed-bold-r-normal--15-140-75-75-c-90-iso8859-1");
  EXPECT_EQ(p[p.size() - 3], "-*-*-*-*-*-*-15-*-*-*-*-*-*-*");
  EXPECT_EQ(p[p.size() - 2], "-*-*-*-*-*-*-*-*-*-*-*-*-*-*");
  EXPECT_EQ(p.back(), "fixed");
  EXPECT_EQ(widerFontPatterns("9x15"), std::vector<std::string>{"fixed"});
}

}  // namespace
}  // namespace ckpt::x11
