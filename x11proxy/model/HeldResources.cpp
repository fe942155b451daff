// Freed but still needed pixmaps and pictures (see HeldResources.hpp).
#include "x11proxy/model/HeldResources.hpp"

#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint8_t kFreePixmap = 54, kCreateCursor = 93, kNoOperation = 127;
constexpr std::uint8_t kRenderCreatePicture = 4, kRenderFreePicture = 7, kRenderCreateCursor = 27;
// Window attributes and GC components that name a pixmap.
constexpr std::uint32_t kCwBackPixmap = 0x1, kCwBorderPixmap = 0x4;
constexpr std::uint32_t kGcTile = 0x400, kGcStipple = 0x800, kGcClipMask = 0x80000;

bool names(const ValueMap& values, std::uint32_t bit, std::uint32_t id) {
  auto it = values.find(bit);
  return it != values.end() && it->second == id;
}

}  // namespace

bool pixmapInUse(const ClientModel& m, std::uint32_t pixmap) {
  for (const auto& [id, w] : m.windows)
    if (names(w.attributes, kCwBackPixmap, pixmap) || names(w.attributes, kCwBorderPixmap, pixmap))
      return true;
  for (const auto& [id, gc] : m.gcs)
    if (names(gc.values, kGcTile, pixmap) || names(gc.values, kGcStipple, pixmap) ||
        names(gc.values, kGcClipMask, pixmap))
      return true;
  for (const auto& [id, c] : m.cursors) {
    const auto& r = c.requests.front();
    if (r.size() >= 16 && r[0] == kCreateCursor &&
        (get32(&r[8]) == pixmap || get32(&r[12]) == pixmap))
      return true;
  }
  for (const auto& [id, o] : m.renderObjects) {
    const auto& r = o.requests.front();
    if (r.size() >= 12 && r[1] == kRenderCreatePicture && get32(&r[8]) == pixmap) return true;
  }
  return false;
}

bool pictureInUse(const ClientModel& m, std::uint32_t picture) {
  for (const auto& [id, c] : m.cursors) {
    const auto& r = c.requests.front();
    if (r.size() >= 12 && r[0] >= 128 && r[1] == kRenderCreateCursor && get32(&r[8]) == picture)
      return true;
  }
  return false;
}

bool HeldResources::holdFree(std::span<std::uint8_t> r, const ClientModel& m,
                             std::uint8_t renderMajor) {
  if (r.size() != 8) return false;  // both frees are two words (never the big-request form)
  std::uint32_t id = get32(&r[4]);
  if (r[0] == kFreePixmap && m.pixmaps.count(id) && pixmapInUse(m, id)) {
    pixmaps_.insert(id);
  } else if (renderMajor && r[0] == renderMajor && r[1] == kRenderFreePicture &&
             m.renderObjects.count(id) && pictureInUse(m, id)) {
    pictures_.insert(id);
  } else {
    return false;
  }
  r[0] = kNoOperation;
  r[1] = 0;
  return true;
}

std::vector<HeldResources::Release> HeldResources::releasable(const ClientModel& m) {
  std::vector<Release> out;
  for (auto it = pictures_.begin(); it != pictures_.end();)
    if (!pictureInUse(m, *it)) {
      out.push_back({true, *it});
      it = pictures_.erase(it);
    } else {
      ++it;
    }
  // A picture released just now still counts as using its pixmap in `m`:
  // the caller frees it from the model first and asks again.
  for (auto it = pixmaps_.begin(); it != pixmaps_.end();)
    if (!pixmapInUse(m, *it)) {
      out.push_back({false, *it});
      it = pixmaps_.erase(it);
    } else {
      ++it;
    }
  return out;
}

}  // namespace ckpt::x11
