// The X11 protocol tables generated from xcb-proto: known facts of the core
// protocol and of the extensions the proxy carries.
#include <gtest/gtest.h>

#include <string_view>

#include "x11proxy/proto/Tables.hpp"

namespace ckpt::x11 {
namespace {

const RequestLayout& core(std::string_view name) {
  for (const auto& r : coreProtocol().requests)
    if (name == r.request.name) return r;
  throw std::runtime_error("no core request " + std::string(name));
}

const IdField* idAt(std::span<const IdField> ids, unsigned offset) {
  for (const auto& f : ids)
    if (f.offset == offset) return &f;
  return nullptr;
}

TEST(X11Tables, CoreProtocolIsComplete) {
  EXPECT_EQ(coreProtocol().requests.size(), 120u);
  EXPECT_EQ(std::string_view(coreProtocol().header), "xproto");
  EXPECT_GE(coreProtocol().events.size(), 33u);  // 2..34 plus GeGeneric
  EXPECT_EQ(coreProtocol().errors.size(), 17u);
}

TEST(X11Tables, CreateWindowIdsAndValueList) {
  const auto& cw = core("CreateWindow");
  EXPECT_EQ(cw.request.code, 1);
  EXPECT_EQ(cw.request.fixedSize, 32);
  EXPECT_EQ(cw.reply, nullptr);
  ASSERT_NE(idAt(cw.request.ids, 4), nullptr);
  EXPECT_EQ(idAt(cw.request.ids, 4)->kind, IdKind::Window);
  EXPECT_EQ(idAt(cw.request.ids, 8)->kind, IdKind::Window);
  EXPECT_EQ(idAt(cw.request.ids, 24)->kind, IdKind::Visualid);
  ASSERT_NE(cw.request.values, nullptr);
  const auto& v = *cw.request.values;
  EXPECT_EQ(v.maskOffset, 28);
  EXPECT_EQ(v.maskSize, 4);
  EXPECT_EQ(v.listOffset, 32);
  ASSERT_EQ(v.bits.size(), 15u);
  EXPECT_EQ(v.bits[0].mask, 0x1u);  // BackPixmap
  EXPECT_EQ(v.bits[0].kind, IdKind::Pixmap);
  EXPECT_EQ(v.bits[13].mask, 0x2000u);  // Colormap
  EXPECT_EQ(v.bits[13].kind, IdKind::Colormap);
  EXPECT_EQ(v.bits[14].kind, IdKind::Cursor);
  EXPECT_EQ(v.bits[11].kind, IdKind::None);  // event_mask is a plain number
}

TEST(X11Tables, ChangeGCValueBits) {
  const auto& gc = core("ChangeGC");
  EXPECT_EQ(gc.request.code, 56);
  EXPECT_EQ(idAt(gc.request.ids, 4)->kind, IdKind::Gcontext);
  ASSERT_NE(gc.request.values, nullptr);
  const auto& bits = gc.request.values->bits;
  ASSERT_EQ(bits.size(), 23u);
  auto bit = [&](std::uint32_t mask) -> const ValueBit& {
    for (const auto& b : bits)
      if (b.mask == mask) return b;
    throw std::runtime_error("no bit");
  };
  EXPECT_EQ(bit(1u << 10).kind, IdKind::Pixmap);  // Tile
  EXPECT_EQ(bit(1u << 11).kind, IdKind::Pixmap);  // Stipple
  EXPECT_EQ(bit(1u << 14).kind, IdKind::Font);
  EXPECT_EQ(bit(1u << 19).kind, IdKind::Pixmap);  // ClipMask
  EXPECT_EQ(bit(1u << 2).kind, IdKind::None);     // Foreground
}

TEST(X11Tables, ConfigureWindowHasA16BitMask) {
  const auto& cw = core("ConfigureWindow");
  ASSERT_NE(cw.request.values, nullptr);
  EXPECT_EQ(cw.request.values->maskOffset, 8);
  EXPECT_EQ(cw.request.values->maskSize, 2);
  EXPECT_EQ(cw.request.values->listOffset, 12);
  EXPECT_EQ(cw.request.values->bits[5].kind, IdKind::Window);  // Sibling
}

TEST(X11Tables, RepliesCarryIds) {
  const auto& ia = core("InternAtom");
  EXPECT_EQ(ia.request.code, 16);
  ASSERT_NE(ia.reply, nullptr);
  EXPECT_EQ(idAt(ia.reply->ids, 8)->kind, IdKind::Atom);
  const auto& qt = core("QueryTree");
  ASSERT_NE(qt.reply, nullptr);
  EXPECT_EQ(idAt(qt.reply->ids, 8)->kind, IdKind::Window);   // root
  EXPECT_EQ(idAt(qt.reply->ids, 12)->kind, IdKind::Window);  // parent
  ASSERT_NE(qt.reply->list, nullptr);
  EXPECT_EQ(qt.reply->list->offset, 32);
  EXPECT_EQ(qt.reply->list->stride, 4);
  EXPECT_EQ(qt.reply->list->ids[0].kind, IdKind::Window);
  const auto& gp = core("GetProperty");
  EXPECT_EQ(idAt(gp.reply->ids, 8)->kind, IdKind::Atom);  // type
}

TEST(X11Tables, Events) {
  const MessageLayout* cn = findEvent(coreProtocol(), 22, false);
  ASSERT_NE(cn, nullptr);
  EXPECT_EQ(std::string_view(cn->name), "ConfigureNotify");
  EXPECT_EQ(cn->fixedSize, 32);
  EXPECT_EQ(idAt(cn->ids, 4)->kind, IdKind::Window);   // event
  EXPECT_EQ(idAt(cn->ids, 8)->kind, IdKind::Window);   // window
  EXPECT_EQ(idAt(cn->ids, 12)->kind, IdKind::Window);  // above_sibling
  const MessageLayout* kp = findEvent(coreProtocol(), 2, false);
  EXPECT_EQ(idAt(kp->ids, 4)->kind, IdKind::Timestamp);
  EXPECT_EQ(idAt(kp->ids, 8)->kind, IdKind::Window);  // root
  // eventcopy: KeyRelease has KeyPress's layout.
  EXPECT_EQ(idAt(findEvent(coreProtocol(), 3, false)->ids, 8)->kind, IdKind::Window);
  const MessageLayout* pn = findEvent(coreProtocol(), 28, false);  // PropertyNotify
  EXPECT_EQ(idAt(pn->ids, 8)->kind, IdKind::Atom);
}

TEST(X11Tables, ExtensionsAndUnions) {
  const ExtensionLayout* render = findExtension("RENDER");
  ASSERT_NE(render, nullptr);
  const RequestLayout* cp = findRequest(*render, 4);  // CreatePicture
  ASSERT_NE(cp, nullptr);
  EXPECT_EQ(std::string_view(cp->request.name), "CreatePicture");
  EXPECT_EQ(idAt(cp->request.ids, 4)->kind, IdKind::RenderPicture);
  EXPECT_EQ(idAt(cp->request.ids, 8)->kind, IdKind::Drawable);
  EXPECT_EQ(idAt(cp->request.ids, 12)->kind, IdKind::RenderPictformat);
  ASSERT_NE(cp->request.values, nullptr);
  EXPECT_EQ(cp->request.values->bits[1].kind, IdKind::RenderPicture);  // alphamap
  const ExtensionLayout* xfixes = findExtension("XFIXES");
  ASSERT_NE(xfixes, nullptr);
  EXPECT_EQ(idAt(findRequest(*xfixes, 5)->request.ids, 4)->kind, IdKind::XfixesRegion);
  ASSERT_NE(findExtension("BIG-REQUESTS"), nullptr);
  EXPECT_NE(findExtension("BIG-REQUESTS")->requests[0].reply, nullptr);
  EXPECT_NE(findExtension("SHAPE"), nullptr);
  EXPECT_NE(findExtension("XC-MISC"), nullptr);
  EXPECT_EQ(findExtension("GLX"), nullptr);
  bool drawable = false;
  for (const auto& u : idUnions())
    if (u.kind == IdKind::Drawable) {
      drawable = true;
      ASSERT_EQ(u.members.size(), 2u);
      EXPECT_EQ(u.members[0], IdKind::Window);
      EXPECT_EQ(u.members[1], IdKind::Pixmap);
    }
  EXPECT_TRUE(drawable);
  EXPECT_STREQ(idKindName(IdKind::Gcontext), "Gcontext");
}

}  // namespace
}  // namespace ckpt::x11
