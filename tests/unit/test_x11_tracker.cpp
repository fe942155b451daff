// The X11 proxy's message framing and its per-connection tracker: requests
// (BIG-REQUESTS too), replies matched by sequence number, and the model.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "x11proxy/proto/Tracker.hpp"
#include "x11proxy/proto/Wire.hpp"
#include "x11proxy/reattach/Replay.hpp"
#include "x11proxy/reattach/ReplayEvents.hpp"

namespace ckpt::x11 {
namespace {

// Builds a message field by field, little-endian.
struct Msg {
  std::vector<std::uint8_t> b;
  Msg& u8(unsigned v) {
    b.push_back(std::uint8_t(v));
    return *this;
  }
  Msg& u16(unsigned v) {
    b.resize(b.size() + 2);
    put16(&b[b.size() - 2], std::uint16_t(v));
    return *this;
  }
  Msg& u32(std::uint32_t v) {
    b.resize(b.size() + 4);
    put32(&b[b.size() - 4], v);
    return *this;
  }
  Msg& str(const std::string& s) {
    b.insert(b.end(), s.begin(), s.end());
    while (b.size() % 4) b.push_back(0);
    return *this;
  }
  Msg& pad(std::size_t n) {
    b.resize(b.size() + n);
    return *this;
  }
  Msg& length() {  // a request: fill in the 16-bit length
    put16(&b[2], std::uint16_t(b.size() / 4));
    return *this;
  }
  Msg& replyTo(std::uint16_t seq) {  // a reply: sequence and length
    b.resize(std::max<std::size_t>(b.size(), 32));
    put16(&b[2], seq);
    put32(&b[4], std::uint32_t((b.size() - 32) / 4));
    return *this;
  }
};

TEST(X11Wire, RequestSizes) {
  auto r = Msg().u8(8).u8(0).u16(2).u32(0x200001).b;  // MapWindow
  EXPECT_EQ(requestSize(r.data(), 3), 0u);
  EXPECT_EQ(requestSize(r.data(), r.size()), 8u);
  auto big = Msg().u8(72).u8(2).u16(0).u32(70000).b;  // PutImage, BIG-REQUESTS length
  EXPECT_EQ(requestSize(big.data(), 4), 0u);
  EXPECT_EQ(requestSize(big.data(), 8), 280000u);
  auto reply = Msg().u8(1).pad(3).u32(3).pad(24).b;
  EXPECT_EQ(serverMessageSize(reply.data(), reply.size()), 44u);
  auto event = Msg().u8(12).pad(31).b;  // Expose
  EXPECT_EQ(serverMessageSize(event.data(), event.size()), 32u);
  auto generic = Msg().u8(35).u8(131).u16(7).u32(2).pad(24).b;
  EXPECT_EQ(serverMessageSize(generic.data(), generic.size()), 40u);
}

TEST(X11Tracker, ModelsWindowsFromRequests) {
  Tracker t;
  // CreateWindow wid 0x200001 on the root 0x50d, 10,20 300x200, BackPixel and EventMask.
  auto cw = Msg()
                .u8(1)
                .u8(24)
                .u16(0)
                .u32(0x200001)
                .u32(0x50d)
                .u16(10)
                .u16(20)
                .u16(300)
                .u16(200)
                .u16(1)
                .u16(1)
                .u32(0x21)
                .u32(0x2 | 0x800)
                .u32(0xffffff)
                .u32(0x8001)
                .length();
  t.clientRequest(cw.b);
  ASSERT_EQ(t.model().windows.count(0x200001), 1u);
  const Window& w = t.model().windows.at(0x200001);
  EXPECT_EQ(w.parent, 0x50du);
  EXPECT_EQ(w.width, 300);
  EXPECT_EQ(w.attributes.at(0x2), 0xffffffu);
  EXPECT_EQ(w.attributes.at(0x800), 0x8001u);
  // ConfigureWindow: width and height (16-bit mask at 8, values at 12).
  t.clientRequest(
      Msg().u8(12).u8(0).u16(0).u32(0x200001).u16(0x4 | 0x8).u16(0).u32(640).u32(480).length().b);
  t.clientRequest(Msg().u8(8).u8(0).u16(0).u32(0x200001).length().b);  // MapWindow
  // ChangeProperty WM_NAME (39) STRING (31) "xlogo", as a BIG-REQUESTS request.
  auto cp = Msg().u8(18).u8(0).u16(0).u32(0).u32(0x200001).u32(39).u32(31).u8(8).pad(3).u32(5).str(
      "xlogo");
  put32(&cp.b[4], std::uint32_t(cp.b.size() / 4));
  t.clientRequest(cp.b);
  const Window& after = t.model().windows.at(0x200001);
  EXPECT_EQ(after.width, 640);
  EXPECT_EQ(after.height, 480);
  EXPECT_TRUE(after.mapped);
  ASSERT_EQ(after.properties.count(39), 1u);
  EXPECT_EQ(std::string(after.properties.at(39).data.begin(), after.properties.at(39).data.end()),
            "xlogo");
  EXPECT_EQ(t.requests(), 4u);
  t.clientRequest(Msg().u8(4).u8(0).u16(0).u32(0x200001).length().b);  // DestroyWindow
  EXPECT_TRUE(t.model().windows.empty());
}

TEST(X11Tracker, RepliesByAtomAndExtension) {
  Tracker t;
  t.clientRequest(Msg().u8(16).u8(0).u16(0).u16(12).u16(0).str("WM_PROTOCOLS").length().b);
  t.clientRequest(Msg().u8(8).u8(0).u16(0).u32(0x200001).length().b);  // no reply
  t.clientRequest(Msg().u8(98).u8(0).u16(0).u16(6).u16(0).str("RENDER").length().b);
  t.clientRequest(Msg().u8(16).u8(1).u16(0).u16(4).u16(0).str("NOPE").length().b);
  EXPECT_EQ(t.repliesOwed(), 3u);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u32(0x123).replyTo(1).b);
  EXPECT_EQ(t.model().atomsByName.at("WM_PROTOCOLS"), 0x123u);
  // QueryExtension reply: present, major 139, first event 0, first error 142.
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u8(1).u8(139).u8(0).u8(142).replyTo(3).b);
  ASSERT_EQ(t.extensions().count(139), 1u);
  EXPECT_EQ(std::string(t.extensions().at(139).layout->xname), "RENDER");
  const RequestLayout* cp = t.requestLayout(139, 4);
  ASSERT_NE(cp, nullptr);
  EXPECT_EQ(std::string(cp->request.name), "CreatePicture");
  // An error answers request 4 instead of its reply.
  t.serverMessage(Msg().u8(0).u8(5).u16(4).pad(28).b);
  EXPECT_EQ(t.repliesOwed(), 0u);
  EXPECT_EQ(t.errors(), 1u);
  EXPECT_EQ(t.model().atomsByName.count("NOPE"), 0u);
  t.serverMessage(Msg().u8(12).pad(31).b);
  EXPECT_EQ(t.events(), 1u);
}

TEST(X11Tracker, KeepsBigRequestsEnableForANewConnection) {
  // A new server connection after a move has BIG-REQUESTS off until its
  // Enable (one word, no fields) is sent there too.
  Tracker t;
  t.clientRequest(Msg().u8(98).u8(0).u16(0).u16(12).u16(0).str("BIG-REQUESTS").length().b);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u8(1).u8(133).u8(0).u8(0).replyTo(1).b);
  t.clientRequest(Msg().u8(133).u8(0).u16(0).length().b);
  ASSERT_EQ(t.model().versionRequests.count(133), 1u);
  EXPECT_EQ(t.model().versionRequests.at(133), (std::vector<std::uint8_t>{133, 0, 1, 0}));
}

TEST(X11Tracker, SequenceNumbersWrap) {
  Tracker t;
  auto noReply = Msg().u8(8).u8(0).u16(0).u32(1).length().b;
  for (int i = 0; i < 65535; ++i) t.clientRequest(noReply);
  t.clientRequest(Msg().u8(16).u8(0).u16(0).u16(1).u16(0).str("A").length().b);  // 65536
  t.clientRequest(Msg().u8(16).u8(0).u16(0).u16(1).u16(0).str("B").length().b);  // 65537
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u32(7).replyTo(0).b);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u32(8).replyTo(1).b);
  EXPECT_EQ(t.model().atomsByName.at("A"), 7u);
  EXPECT_EQ(t.model().atomsByName.at("B"), 8u);
}

TEST(X11Tracker, GcsAndPixmaps) {
  Tracker t;
  t.clientRequest(Msg().u8(53).u8(24).u16(0).u32(0x200002).u32(0x50d).u16(16).u16(16).length().b);
  // CreateGC with Foreground (bit 2) and Tile (bit 10).
  t.clientRequest(Msg()
                      .u8(55)
                      .u8(0)
                      .u16(0)
                      .u32(0x200003)
                      .u32(0x200002)
                      .u32(0x4 | 0x400)
                      .u32(0xff0000)
                      .u32(0x200002)
                      .length()
                      .b);
  ASSERT_EQ(t.model().gcs.count(0x200003), 1u);
  EXPECT_EQ(t.model().gcs.at(0x200003).values.at(0x400), 0x200002u);
  EXPECT_EQ(t.model().pixmaps.at(0x200002).width, 16);
  t.clientRequest(Msg().u8(54).u8(0).u16(0).u32(0x200002).length().b);  // FreePixmap
  EXPECT_TRUE(t.model().pixmaps.empty());
}

// CreateWindow (depth 24, 10x10, InputOutput, CopyFromParent visual) with
// an optional event mask.
std::vector<std::uint8_t> createWindow(std::uint32_t id, std::uint32_t parent,
                                       std::uint32_t eventMask = 0) {
  Msg m;
  m.u8(1).u8(24).u16(0).u32(id).u32(parent).u16(0).u16(0).u16(10).u16(10).u16(0).u16(1).u32(0);
  if (eventMask)
    m.u32(0x800).u32(eventMask);
  else
    m.u32(0);
  return m.length().b;
}

// A pixmap freed while a GC still tiles with it stays (a NoOperation goes to
// the server instead) until the GC lets go of it; then the proxy frees it.
TEST(X11Tracker, HoldsAFreedPixmapWhileAGcUsesIt) {
  Tracker t;
  t.clientRequest(Msg().u8(53).u8(24).u16(0).u32(0x200002).u32(0x50d).u16(8).u16(8).length().b);
  t.clientRequest(
      Msg().u8(55).u8(0).u16(0).u32(0x200003).u32(0x200002).u32(0x400).u32(0x200002).length().b);
  auto free = Msg().u8(54).u8(0).u16(0).u32(0x200002).length().b;
  EXPECT_TRUE(t.holdFree(free));
  EXPECT_EQ(free[0], 127);  // NoOperation, same length
  EXPECT_EQ(get16(&free[2]), 2);
  t.clientRequest(free);
  EXPECT_EQ(t.model().pixmaps.count(0x200002), 1u);
  EXPECT_EQ(t.held(), 1u);
  EXPECT_TRUE(t.releaseHeld().empty());  // nothing dropped it yet
  // ChangeGC: a solid fill style, tile 0 (never a pixmap id).
  t.clientRequest(Msg().u8(56).u8(0).u16(0).u32(0x200003).u32(0x400).u32(0).length().b);
  auto frees = t.releaseHeld();
  ASSERT_EQ(frees.size(), 1u);
  EXPECT_EQ(frees[0][0], 54);
  EXPECT_EQ(get32(&frees[0][4]), 0x200002u);
  EXPECT_EQ(t.model().pixmaps.count(0x200002), 0u);
  EXPECT_EQ(t.held(), 0u);
  // A pixmap nothing uses is freed as the client says.
  t.clientRequest(Msg().u8(53).u8(24).u16(0).u32(0x200004).u32(0x50d).u16(8).u16(8).length().b);
  auto unused = Msg().u8(54).u8(0).u16(0).u32(0x200004).length().b;
  EXPECT_FALSE(t.holdFree(unused));
  EXPECT_EQ(unused[0], 54);
}

// Siblings stack in creation order until restacked: ConfigureWindow's stack
// mode (with and without a sibling) and CirculateWindow move them.
TEST(X11Tracker, FollowsStacking) {
  Tracker t;
  for (std::uint32_t id : {0x200001u, 0x200002u, 0x200003u, 0x200004u}) {
    t.clientRequest(createWindow(id, id == 0x200001 ? 0x50d : 0x200001));
  }
  auto stacking = [&] {
    std::vector<std::pair<std::uint64_t, std::uint32_t>> v;
    for (const auto& [id, w] : t.model().windows)
      if (w.parent == 0x200001) v.emplace_back(w.order, id);
    std::sort(v.begin(), v.end());
    std::vector<std::uint32_t> ids;
    for (auto [o, id] : v) ids.push_back(id);
    return ids;
  };
  EXPECT_EQ(stacking(), (std::vector<std::uint32_t>{0x200002, 0x200003, 0x200004}));
  // Raise 2 (stack mode Above, no sibling).
  t.clientRequest(Msg().u8(12).u8(0).u16(0).u32(0x200002).u16(0x40).u16(0).u32(0).length().b);
  EXPECT_EQ(stacking(), (std::vector<std::uint32_t>{0x200003, 0x200004, 0x200002}));
  // 4 just below 3 (sibling 3, Below).
  t.clientRequest(
      Msg().u8(12).u8(0).u16(0).u32(0x200004).u16(0x60).u16(0).u32(0x200003).u32(1).length().b);
  EXPECT_EQ(stacking(), (std::vector<std::uint32_t>{0x200004, 0x200003, 0x200002}));
  // CirculateWindow RaiseLowest: only mapped children take part.
  for (std::uint32_t id : {0x200002u, 0x200003u, 0x200004u})
    t.clientRequest(Msg().u8(8).u8(0).u16(0).u32(id).length().b);
  t.clientRequest(Msg().u8(13).u8(0).u16(0).u32(0x200001).length().b);
  EXPECT_EQ(stacking(), (std::vector<std::uint32_t>{0x200003, 0x200002, 0x200004}));
}

// Selections the client owns and passive grabs on its windows are kept for
// a reattach, and let go of as the client (or another) says.
TEST(X11Tracker, SelectionsAndPassiveGrabs) {
  Tracker t;
  t.clientRequest(createWindow(0x200001, 0x50d));
  // SetSelectionOwner(PRIMARY = 1) by its window; then by None.
  t.clientRequest(Msg().u8(22).u8(0).u16(0).u32(0x200001).u32(1).u32(0).length().b);
  t.clientRequest(Msg().u8(22).u8(0).u16(0).u32(0x200001).u32(2).u32(0).length().b);
  EXPECT_EQ(t.model().selections.size(), 2u);
  t.clientRequest(Msg().u8(22).u8(0).u16(0).u32(0).u32(2).u32(0).length().b);
  EXPECT_EQ(t.model().selections.count(2), 0u);
  // SelectionClear: another client took PRIMARY.
  t.serverMessage(Msg().u8(29).u8(0).u16(3).u32(0).u32(0x200001).u32(1).pad(16).b);
  EXPECT_TRUE(t.model().selections.empty());

  // GrabKey (key 38, modifiers 4) twice: one grab; GrabButton 1 any modifier.
  auto grabKey =
      Msg().u8(33).u8(1).u16(0).u32(0x200001).u16(4).u8(38).u8(1).u8(1).pad(3).length().b;
  t.clientRequest(grabKey);
  t.clientRequest(grabKey);
  t.clientRequest(Msg()
                      .u8(28)
                      .u8(0)
                      .u16(0)
                      .u32(0x200001)
                      .u16(4)
                      .u8(1)
                      .u8(1)
                      .u32(0)
                      .u32(0)
                      .u8(1)
                      .u8(0)
                      .u16(0x8000)
                      .length()
                      .b);
  EXPECT_EQ(t.model().windows.at(0x200001).grabs.size(), 2u);
  // UngrabKey(any key, modifiers 4) leaves the button grab.
  t.clientRequest(Msg().u8(34).u8(0).u16(0).u32(0x200001).u16(4).pad(2).length().b);
  ASSERT_EQ(t.model().windows.at(0x200001).grabs.size(), 1u);
  EXPECT_EQ(t.model().windows.at(0x200001).grabs[0][0], 28);
}

// XFIXES: the regions the client holds (their rectangles come from the
// server at a move) and its selection-input selections per window.
TEST(X11Tracker, XfixesRegionsAndSelectionInput) {
  Tracker t;
  t.clientRequest(Msg().u8(98).u8(0).u16(0).u16(6).u16(0).str("XFIXES").length().b);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u8(1).u8(138).u8(87).u8(140).replyTo(1).b);
  t.clientRequest(createWindow(0x200001, 0x50d));
  // CreateRegion with one rectangle, then one more region; destroy the second.
  t.clientRequest(
      Msg().u8(138).u8(5).u16(0).u32(0x200002).u16(0).u16(0).u16(10).u16(10).length().b);
  t.clientRequest(Msg().u8(138).u8(5).u16(0).u32(0x200003).length().b);
  t.clientRequest(Msg().u8(138).u8(10).u16(0).u32(0x200003).length().b);
  ASSERT_EQ(t.model().regions.size(), 1u);
  EXPECT_EQ(t.model().regions.at(0x200002), 138);
  // SelectSelectionInput on CLIPBOARD (atom 300) twice, on PRIMARY once.
  for (std::uint32_t mask : {1u, 7u})
    t.clientRequest(Msg().u8(138).u8(2).u16(0).u32(0x200001).u32(300).u32(mask).length().b);
  t.clientRequest(Msg().u8(138).u8(2).u16(0).u32(0x200001).u32(1).u32(1).length().b);
  const auto& selects = t.model().windows.at(0x200001).xfixesSelects;
  ASSERT_EQ(selects.size(), 2u);
  EXPECT_EQ(get32(&selects[0][12]), 7u);  // the later mask replaced the earlier
}

// XFIXES SetGCClipRegion, SetPictureClipRegion and SetWindowShapeRegion:
// the model keeps which GC, picture and window shape came from a region
// (the region itself may go at once), until another clip replaces it; the
// replay makes the clip again from the rectangles read at the move, after
// the GC or picture exists.
TEST(X11Tracker, ClipsAndShapesFromXfixesRegions) {
  Tracker t;
  t.clientRequest(Msg().u8(98).u8(0).u16(0).u16(6).u16(0).str("XFIXES").length().b);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u8(1).u8(138).u8(87).u8(140).replyTo(1).b);
  t.clientRequest(Msg().u8(98).u8(0).u16(0).u16(6).u16(0).str("RENDER").length().b);
  t.serverMessage(Msg().u8(1).u8(0).u16(0).u32(0).u8(1).u8(139).u8(0).u8(142).replyTo(2).b);
  t.clientRequest(createWindow(0x200001, 0x50d));
  t.clientRequest(Msg().u8(55).u8(0).u16(0).u32(0x200003).u32(0x200001).u32(0).length().b);
  // CreatePicture on the window, format 0x25, no values.
  t.clientRequest(
      Msg().u8(139).u8(4).u16(0).u32(0x200004).u32(0x200001).u32(0x25).u32(0).length().b);
  t.clientRequest(Msg().u8(138).u8(5).u16(0).u32(0x200002).u16(1).u16(2).u16(3).u16(4).length().b);
  // SetGCClipRegion (origin 5, 6), SetPictureClipRegion (origin 7, 8),
  // SetWindowShapeRegion (bounding, offset 0, 0); then the region goes.
  t.clientRequest(Msg().u8(138).u8(20).u16(0).u32(0x200003).u32(0x200002).u16(5).u16(6).length().b);
  t.clientRequest(Msg().u8(138).u8(22).u16(0).u32(0x200004).u32(0x200002).u16(7).u16(8).length().b);
  t.clientRequest(Msg()
                      .u8(138)
                      .u8(21)
                      .u16(0)
                      .u32(0x200001)
                      .u8(0)
                      .pad(3)
                      .u16(0)
                      .u16(0)
                      .u32(0x200002)
                      .length()
                      .b);
  t.clientRequest(Msg().u8(138).u8(10).u16(0).u32(0x200002).length().b);

  const ClientModel& m = t.model();
  ASSERT_TRUE(m.gcs.at(0x200003).regionClip);
  EXPECT_EQ(m.gcs.at(0x200003).regionClip->xfixesMajor, 138);
  EXPECT_EQ(m.gcs.at(0x200003).values.at(0x20000), 5u);  // clip x origin
  EXPECT_EQ(m.gcs.at(0x200003).values.at(0x40000), 6u);
  ASSERT_EQ(m.pictureClips.count(0x200004), 1u);
  EXPECT_EQ(m.pictureClips.at(0x200004).y, 8);
  EXPECT_EQ(m.windows.at(0x200001).regionShapes.at(0), 138);
  EXPECT_TRUE(m.regions.empty());

  // The replay: the clips and the shape from the rectangles the old server held.
  ServerView v;
  v.idBase = 0x200000;
  v.idMask = 0x1fffff;
  v.root = 0x50d;
  v.rootDepth = 24;
  FetchedState f;
  f.server = v;
  f.gcClips[0x200003] = {1, 2, 3, 4};
  f.pictureClips[0x200004] = {1, 2, 3, 4};
  f.shapes[0x200001].push_back({0, 0, {0, 0, 5, 5}});
  ReplayPlan plan = planReplay({m, v, f, v});
  auto at = [&](std::uint8_t major, std::uint8_t minor, std::uint32_t id) {
    for (std::size_t i = 0; i < plan.requests.size(); ++i) {
      const auto& r = plan.requests[i];
      if (r[0] == major && (major < 128 || r[1] == minor) && get32(&r[4]) == id) return int(i);
    }
    return -1;
  };
  int gcClip = at(138, 20, 0x200003), pictureClip = at(138, 22, 0x200004);
  int shape = at(138, 21, 0x200001);
  ASSERT_GE(gcClip, 0);
  ASSERT_GE(pictureClip, 0);
  ASSERT_GE(shape, 0);
  EXPECT_GT(gcClip, at(55, 0, 0x200003));        // after CreateGC
  EXPECT_GT(pictureClip, at(139, 4, 0x200004));  // after CreatePicture
  EXPECT_GT(shape, at(1, 0, 0x200001));          // after CreateWindow
  const auto& setGc = plan.requests[std::size_t(gcClip)];
  EXPECT_EQ(get16(&setGc[12]), 5);
  EXPECT_EQ(get16(&setGc[14]), 6);
  // The region it names was made just before with the fetched rectangles, and goes after.
  std::uint32_t temp = get32(&setGc[8]);
  int made = at(138, 5, temp), gone = at(138, 10, temp);
  ASSERT_GE(made, 0);
  EXPECT_LT(made, gcClip);
  EXPECT_GT(gone, gcClip);
  EXPECT_EQ(plan.requests[std::size_t(made)].size(), 16u);
  EXPECT_EQ(get16(&plan.requests[std::size_t(made)][14]), 4);

  // Clip rectangles replace the GC's region clip; clip rectangles on the
  // picture replace its region clip; region None takes the shape away.
  t.clientRequest(Msg().u8(59).u8(0).u16(0).u32(0x200003).u16(0).u16(0).length().b);
  EXPECT_FALSE(t.model().gcs.at(0x200003).regionClip);
  t.clientRequest(Msg().u8(139).u8(6).u16(0).u32(0x200004).u16(0).u16(0).length().b);
  EXPECT_EQ(t.model().pictureClips.count(0x200004), 0u);
  t.clientRequest(
      Msg().u8(138).u8(21).u16(0).u32(0x200001).u8(0).pad(3).u16(0).u16(0).u32(0).length().b);
  EXPECT_TRUE(t.model().windows.at(0x200001).regionShapes.empty());
}

// Colour cells: shared ones with the colour the server gave (counted, as
// each FreeColors drops one), writable ones with what StoreColors put there.
TEST(X11Tracker, ColourCellsPerColormap) {
  Tracker t;
  // AllocColor(colormap 0x20, 0xffff, 0, 0) twice; the server answers pixel 2.
  for (std::uint16_t seq : {1, 2}) {
    t.clientRequest(
        Msg().u8(84).u8(0).u16(0).u32(0x20).u16(0xffff).u16(0).u16(0).u16(0).length().b);
    t.serverMessage(
        Msg().u8(1).u8(0).u16(0).u32(0).u16(0xff00).u16(0).u16(0).u16(0).u32(2).replyTo(seq).b);
  }
  // AllocNamedColor(0x20, "blue"): pixel 3, exact and visual colours.
  t.clientRequest(Msg().u8(85).u8(0).u16(0).u32(0x20).u16(4).u16(0).str("blue").length().b);
  t.serverMessage(Msg()
                      .u8(1)
                      .u8(0)
                      .u16(0)
                      .u32(0)
                      .u32(3)
                      .u16(0)
                      .u16(0)
                      .u16(0xffff)
                      .u16(0)
                      .u16(0)
                      .u16(0xff00)
                      .replyTo(3)
                      .b);
  // AllocColorCells(0x20, 2 colours, no planes): pixels 10 and 11.
  t.clientRequest(Msg().u8(86).u8(0).u16(0).u32(0x20).u16(2).u16(0).length().b);
  t.serverMessage(
      Msg().u8(1).u8(0).u16(0).u32(0).u16(2).u16(0).pad(20).u32(10).u32(11).replyTo(4).b);
  // StoreColors(0x20, pixel 10: green only... then all).
  t.clientRequest(
      Msg().u8(89).u8(0).u16(0).u32(0x20).u32(10).u16(1).u16(2).u16(3).u8(7).u8(0).length().b);
  const auto& cells = t.model().colors.at(0x20);
  ASSERT_EQ(cells.size(), 4u);
  EXPECT_EQ(cells.at(2).red, 0xff00);
  EXPECT_EQ(cells.at(2).refs, 2u);
  EXPECT_EQ(cells.at(3).blue, 0xff00);  // the visual's colour, not the exact one
  EXPECT_TRUE(cells.at(10).writable);
  EXPECT_TRUE(cells.at(10).stored);
  EXPECT_EQ(cells.at(10).blue, 3);
  EXPECT_FALSE(cells.at(11).stored);
  // FreeColors(0x20, plane mask 0, pixels 2, 11): 2 is still held once.
  t.clientRequest(Msg().u8(88).u8(0).u16(0).u32(0x20).u32(0).u32(2).u32(11).length().b);
  EXPECT_EQ(t.model().colors.at(0x20).at(2).refs, 1u);
  EXPECT_EQ(t.model().colors.at(0x20).count(11), 0u);
}

// What the client is told around a reattach: its mapped top-levels were
// unmapped; the replay's own echoes are not passed on.
TEST(X11ReplayEvents, UnmapBeforeAndEchoesKeptBack) {
  Tracker t;
  // A top-level selecting StructureNotify (event mask 0x20000) and a child.
  t.clientRequest(createWindow(0x200001, 0x50d, 0x20000));
  t.clientRequest(createWindow(0x200002, 0x200001));
  t.clientRequest(Msg().u8(9).u8(0).u16(0).u32(0x200001).length().b);  // MapSubwindows
  t.clientRequest(Msg().u8(8).u8(0).u16(0).u32(0x200001).length().b);
  // WM_NAME (39), STRING (31), "x".
  t.clientRequest(Msg()
                      .u8(18)
                      .u8(0)
                      .u16(0)
                      .u32(0x200001)
                      .u32(39)
                      .u32(31)
                      .u8(8)
                      .pad(3)
                      .u32(1)
                      .str("x")
                      .length()
                      .b);
  auto unmaps = unmapNotifiesBeforeMove(t.model(), 0x50d, 7);
  ASSERT_EQ(unmaps.size(), 1u);
  EXPECT_EQ(unmaps[0][0], 18);
  EXPECT_EQ(get16(&unmaps[0][2]), 7);
  EXPECT_EQ(get32(&unmaps[0][8]), 0x200001u);

  auto event = [](std::uint8_t code, std::uint32_t a, std::uint32_t b) {
    return Msg().u8(code).u8(0).u16(0).u32(a).u32(b).pad(20).b;
  };
  EXPECT_TRUE(replayEcho(t.model(), event(19, 0x200002, 0x200002)));   // MapNotify, child
  EXPECT_FALSE(replayEcho(t.model(), event(19, 0x200001, 0x200001)));  // MapNotify, top-level
  EXPECT_TRUE(replayEcho(t.model(), event(28, 0x200001, 39)));         // PropertyNotify, WM_NAME
  EXPECT_FALSE(replayEcho(t.model(), event(28, 0x200001, 40)));        // a property set by others
  EXPECT_FALSE(replayEcho(t.model(), event(12, 0x200001, 0)));         // Expose
  auto sent = event(19, 0x200002, 0x200002);
  sent[0] |= 0x80;
  EXPECT_FALSE(replayEcho(t.model(), sent));  // SendEvent
}

}  // namespace
}  // namespace ckpt::x11
