// Reading the connection setup reply into a ServerView (see ServerView.hpp).
#include "x11proxy/proto/ServerView.hpp"

#include "core/util/Error.hpp"
#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {

const VisualInfo* ServerView::visual(std::uint32_t id) const {
  for (const auto& v : visuals)
    if (v.id == id) return &v;
  return nullptr;
}

const PixmapFormat* ServerView::format(std::uint8_t depth) const {
  for (const auto& f : formats)
    if (f.depth == depth) return &f;
  return nullptr;
}

std::optional<std::uint32_t> ServerView::matchVisual(const VisualInfo& v) const {
  if (const VisualInfo* r = visual(rootVisual); r && r->sameShape(v)) return r->id;
  for (const auto& mine : visuals)
    if (mine.sameShape(v)) return mine.id;
  return std::nullopt;
}

ServerView parseSetup(std::span<const std::uint8_t> s) {
  auto need = [&](std::size_t end) {
    if (end > s.size()) throw Error("x11: the X server's setup reply is truncated");
  };
  need(40);
  if (s[0] != 1) throw Error("x11: the X server refused the connection");
  ServerView v;
  v.idBase = get32(&s[12]);
  v.idMask = get32(&s[16]);
  std::size_t vendorLen = get16(&s[24]);
  std::uint8_t screens = s[28], nformats = s[29];
  v.imageByteOrder = s[30];
  v.bitmapBitOrder = s[31];
  v.minKeycode = s[34];
  v.maxKeycode = s[35];
  std::size_t at = 40 + ((vendorLen + 3) & ~std::size_t(3));
  need(at + 8 * std::size_t(nformats));
  for (std::uint8_t i = 0; i < nformats; ++i, at += 8)
    v.formats.push_back({s[at], s[at + 1], s[at + 2]});
  if (screens == 0) throw Error("x11: the X server has no screen");
  need(at + 40);
  v.root = get32(&s[at]);
  v.defaultColormap = get32(&s[at + 4]);
  v.whitePixel = get32(&s[at + 8]);
  v.blackPixel = get32(&s[at + 12]);
  v.width = get16(&s[at + 20]);
  v.height = get16(&s[at + 22]);
  v.rootVisual = get32(&s[at + 32]);
  v.rootDepth = s[at + 38];
  std::uint8_t ndepths = s[at + 39];
  at += 40;
  for (std::uint8_t d = 0; d < ndepths; ++d) {
    need(at + 8);
    std::uint8_t depth = s[at];
    std::size_t nvisuals = get16(&s[at + 2]);
    at += 8;
    need(at + 24 * nvisuals);
    for (std::size_t i = 0; i < nvisuals; ++i, at += 24) {
      VisualInfo vi;
      vi.id = get32(&s[at]);
      vi.depth = depth;
      vi.visualClass = s[at + 4];
      vi.bitsPerRgb = s[at + 5];
      vi.colormapEntries = get16(&s[at + 6]);
      vi.redMask = get32(&s[at + 8]);
      vi.greenMask = get32(&s[at + 12]);
      vi.blueMask = get32(&s[at + 16]);
      v.visuals.push_back(vi);
    }
  }
  return v;
}

}  // namespace ckpt::x11
