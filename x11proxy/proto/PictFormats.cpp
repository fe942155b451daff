// Parsing, rewriting and matching RENDER picture formats (see PictFormats.hpp).
#include "x11proxy/proto/PictFormats.hpp"

#include <fmt/format.h>

#include <set>

#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

// QueryPictFormats reply: counts at 8 (formats), 12 (screens), 24 (subpixels);
// PICTFORMINFO entries of 28 bytes from 32, then the screens.
constexpr std::size_t kFormatsAt = 32, kFormatSize = 28;
constexpr std::uint8_t kCreatePicture = 4, kCreateGlyphSet = 17;

// Walks the reply's fields that hold ids; `each(offset, kind)` with kind 0 a
// format, 1 a colormap, 2 a visual. False when the reply is malformed.
template <typename Each>
bool walk(std::span<const std::uint8_t> m, Each each) {
  if (m.size() < 32) return false;
  std::size_t formats = get32(&m[8]), screens = get32(&m[12]);
  std::size_t at = kFormatsAt;
  if (formats > (m.size() - at) / kFormatSize) return false;
  for (std::size_t i = 0; i < formats; ++i, at += kFormatSize) {
    each(at, 0);
    each(at + 24, 1);
  }
  for (std::size_t s = 0; s < screens; ++s) {
    if (at + 8 > m.size()) return false;
    std::size_t depths = get32(&m[at]);
    each(at + 4, 0);  // fallback
    at += 8;
    for (std::size_t d = 0; d < depths; ++d) {
      if (at + 8 > m.size()) return false;
      std::size_t visuals = get16(&m[at + 2]);
      at += 8;
      if (visuals > (m.size() - at) / 8) return false;
      for (std::size_t v = 0; v < visuals; ++v, at += 8) {
        each(at, 2);
        each(at + 4, 0);
      }
    }
  }
  return true;
}

}  // namespace

std::vector<PictFormat> parsePictFormats(std::span<const std::uint8_t> m) {
  std::vector<PictFormat> out;
  std::map<std::uint32_t, std::uint32_t> visualOf;  // format → the first visual it serves
  std::uint32_t lastVisual = 0;
  bool ok = walk(m, [&](std::size_t at, int kind) {
    if (kind == 0 && at < kFormatsAt + get32(&m[8]) * kFormatSize) {
      PictFormat f;
      f.id = get32(&m[at]);
      f.type = m[at + 4];
      f.depth = m[at + 5];
      for (std::size_t i = 0; i < 8; ++i) f.direct[i] = get16(&m[at + 8 + 2 * i]);
      out.push_back(f);
    } else if (kind == 1) {
      out.back().colormap = get32(&m[at]);
    } else if (kind == 2) {
      lastVisual = get32(&m[at]);
    } else if (lastVisual) {  // a visual's format: the field right after its visual
      visualOf.emplace(get32(&m[at]), lastVisual);
      lastVisual = 0;
    }
  });
  if (!ok) return {};
  for (auto& f : out)
    if (f.type == 0)
      if (auto it = visualOf.find(f.id); it != visualOf.end()) f.visual = it->second;
  return out;
}

void rewritePictFormats(std::span<std::uint8_t> m, const PictFormatsRewrite& rewrite) {
  // Read everything first: a rewritten format id must not be read as another.
  std::vector<std::pair<std::size_t, int>> fields;
  if (!walk(m, [&](std::size_t at, int kind) { fields.emplace_back(at, kind); })) return;
  for (auto [at, kind] : fields) {
    std::uint32_t v = get32(&m[at]);
    if (v == 0) continue;
    const auto& f = kind == 0 ? rewrite.format : kind == 1 ? rewrite.colormap : rewrite.visual;
    if (f) put32(&m[at], f(v));
  }
}

std::map<std::uint32_t, std::uint32_t> matchPictFormats(const std::vector<PictFormat>& client,
                                                        const ServerView& clientView,
                                                        const std::vector<PictFormat>& server,
                                                        const ServerView& serverView) {
  auto alike = [&](const PictFormat& c, const PictFormat& s) {
    if (!c.sameShape(s)) return false;
    if (c.type != 0) return true;
    // Indexed: its pixels mean what the colormap of its visual says.
    const VisualInfo* cv = clientView.visual(c.visual);
    const VisualInfo* sv = serverView.visual(s.visual);
    return cv && sv && cv->sameShape(*sv);
  };
  std::map<std::uint32_t, std::uint32_t> out;
  std::set<std::uint32_t> taken;
  for (const auto& c : client) {
    const PictFormat* first = nullptr;
    const PictFormat* free = nullptr;
    for (const auto& s : server) {
      if (!alike(c, s)) continue;
      if (!first) first = &s;
      if (!taken.count(s.id)) {
        free = &s;
        break;
      }
    }
    const PictFormat* pick = free ? free : first;
    if (!pick) continue;
    out[c.id] = pick->id;
    taken.insert(pick->id);
  }
  return out;
}

std::optional<std::uint32_t> createdWithFormat(std::span<const std::uint8_t> r) {
  if (r.size() >= 16 && r[1] == kCreatePicture) return get32(&r[12]);
  if (r.size() >= 12 && r[1] == kCreateGlyphSet) return get32(&r[8]);
  return std::nullopt;
}

std::string missingPictFormat(const std::map<std::uint32_t, RecordedResource>& renderObjects,
                              const std::vector<PictFormat>& clientFormats,
                              const std::map<std::uint32_t, std::uint32_t>& map) {
  for (const auto& [id, rec] : renderObjects) {
    auto format = createdWithFormat(rec.requests.front());
    if (!format || map.count(*format)) continue;
    std::string what = fmt::format("0x{:x}", *format);
    for (const auto& f : clientFormats)
      if (f.id == *format)
        what = fmt::format("0x{:x} ({}, depth {})", f.id, f.type ? "direct" : "indexed", f.depth);
    return fmt::format("no picture format like {} that the client's {} 0x{:x} uses", what,
                       rec.requests.front()[1] == kCreatePicture ? "picture" : "glyph set", id);
  }
  return "";
}

}  // namespace ckpt::x11
