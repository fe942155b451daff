// Message-by-message bookkeeping of one client connection (see Tracker.hpp).
#include "x11proxy/proto/Tracker.hpp"

#include <cstring>
#include <optional>

#include "x11proxy/proto/CoreOpcodes.hpp"
#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
using namespace op;
namespace {

// GC components (value-mask bits) and a RENDER picture's clip-mask bit.
constexpr std::uint32_t kGcClipXOrigin = 0x20000, kGcClipYOrigin = 0x40000, kGcClipMask = 0x80000,
                        kCpClipMask = 0x40;

ColorCell sharedColor(std::uint16_t red, std::uint16_t green, std::uint16_t blue) {
  ColorCell c;
  c.red = red;
  c.green = green;
  c.blue = blue;
  return c;
}

// Does the sequence number `later` (16 bits, wrapping) come after `earlier`?
bool after(std::uint16_t later, std::uint16_t earlier) {
  return std::int16_t(std::uint16_t(later - earlier)) > 0;
}

std::string stringAt(std::span<const std::uint8_t> m, std::size_t offset, std::size_t len) {
  if (offset + len > m.size()) return {};
  return std::string(reinterpret_cast<const char*>(m.data() + offset), len);
}

}  // namespace

std::vector<std::pair<std::uint32_t, std::uint32_t>> decodeValues(const ValueListLayout& layout,
                                                                  std::span<const std::uint8_t> r) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  if (r.size() < std::size_t(layout.maskOffset) + layout.maskSize) return out;
  std::uint32_t mask =
      layout.maskSize == 2 ? get16(&r[layout.maskOffset]) : get32(&r[layout.maskOffset]);
  std::size_t at = layout.listOffset;
  for (const auto& bit : layout.bits) {
    if (!(mask & bit.mask)) continue;
    // Core value lists hold every value in 4 bytes, whatever its type.
    if (at + 4 > r.size()) break;
    std::uint32_t v = get32(&r[at]);
    if (bit.size == 1) v &= 0xff;
    if (bit.size == 2) v &= 0xffff;
    out.emplace_back(bit.mask, v);
    at += 4;
  }
  return out;
}

const RequestLayout* Tracker::requestLayout(std::uint8_t major, std::uint8_t minor) const {
  if (major < 128) return findRequest(coreProtocol(), major);
  auto it = byMajor_.find(major);
  if (it == byMajor_.end() || !it->second.layout) return nullptr;
  return findRequest(*it->second.layout, minor);
}

bool Tracker::onlyDraws(std::uint8_t major, std::uint8_t minor) const {
  // Core: ClearArea, CopyArea, CopyPlane, Poly*, PutImage, GetImage, the text requests.
  if (major < 128) return major >= 61 && major <= 77;
  // RENDER: Composite, Trapezoids, Triangles, TriStrip, TriFan, CompositeGlyphs8/16/32,
  // FillRectangles.
  auto it = byMajor_.find(major);
  if (it == byMajor_.end() || it->second.name != "RENDER") return false;
  return minor == 8 || (minor >= 10 && minor <= 13) || (minor >= 23 && minor <= 26);
}

void Tracker::clientRequest(std::span<const std::uint8_t> request) {
  ++sequence_;
  if (request.size() >= 4 && onlyDraws(request[0], request[1])) {
    // Bulk drawing (most of the bytes a client sends) changes nothing the
    // model keeps: only a reply it may be owed (GetImage) counts.
    const RequestLayout* layout = requestLayout(request[0], request[1]);
    if (layout && layout->reply) pending_.push_back({sequence_, request[0], request[1], {}});
    return;
  }
  std::vector<std::uint8_t> normal;
  std::span<const std::uint8_t> r = request;
  if (r.size() >= 8 && get16(&r[2]) == 0) {
    // BIG-REQUESTS: drop the extra length word so fields sit where the tables say.
    normal.assign(r.begin(), r.begin() + 4);
    normal.insert(normal.end(), r.begin() + 8, r.end());
    r = normal;
  }
  std::uint8_t major = r[0], minor = r[1];
  const RequestLayout* layout = requestLayout(major, minor);
  bool reply = layout ? layout->reply != nullptr : false;
  if (major >= 128 && !layout) {
    // An extension the proxy has no tables for: only BIG-REQUESTS' enable is
    // certain to answer; the rest answer by kind, which the next reply or
    // error with a later sequence number settles (see serverMessage).
    reply = true;
  }
  if (reply) {
    Pending p{sequence_, major, minor, {}};
    if (major == InternAtom && r.size() >= 8) p.name = stringAt(r, 8, get16(&r[4]));
    if (major == QueryExtension && r.size() >= 8) p.name = stringAt(r, 8, get16(&r[4]));
    if (major == GetAtomName && r.size() >= 8) p.name = std::to_string(get32(&r[4]));
    if ((major == AllocColor || major == AllocNamedColor || major == AllocColorCells) &&
        r.size() >= 8)
      p.colormap = get32(&r[4]);
    pending_.push_back(std::move(p));
  }
  if (major < 128) {
    modelRequest(r);
  } else if (auto it = byMajor_.find(major); it != byMajor_.end()) {
    modelExtensionRequest(it->second.name, r);
  }
}

std::optional<std::uint8_t> Tracker::coreDataFor(std::uint16_t seq) const {
  for (const auto& p : pending_)
    if (std::uint16_t(p.sequence) == seq && p.major < 128) return p.minor;
  return std::nullopt;
}

const RequestLayout* Tracker::layoutFor(std::uint16_t seq) const {
  for (const auto& p : pending_)
    if (std::uint16_t(p.sequence) == seq) return requestLayout(p.major, p.minor);
  return nullptr;
}

void Tracker::modelExtensionRequest(const std::string& ext, std::span<const std::uint8_t> r) {
  std::uint8_t minor = r[1];
  // Minor 0 is kept whatever its size: BIG-REQUESTS' Enable is one word.
  if (r.size() < 8 && minor != 0) return;
  std::uint32_t id = r.size() >= 8 ? get32(&r[4]) : 0;
  std::vector<std::uint8_t> bytes(r.begin(), r.end());
  auto create = [&](std::map<std::uint32_t, RecordedResource>& into) {
    RecordedResource& rec = into[id];
    rec = RecordedResource{};
    rec.order = model_.nextOrder++;
    rec.requests.push_back(std::move(bytes));
  };
  auto change = [&](std::map<std::uint32_t, RecordedResource>& in) {
    auto it = in.find(id);
    if (it == in.end()) return;
    auto& log = it->second.requests;
    // A client changing a picture on every frame must not grow the record:
    // a change that sets all an earlier one set makes that one moot.
    if (minor == 6 || minor == 28 || minor == 30) {  // clip rectangles, transform, filter
      std::erase_if(log, [&](const auto& old) { return &old != &log.front() && old[1] == minor; });
    } else if (minor == 5 && bytes.size() >= 12) {  // ChangePicture: by value mask
      std::uint32_t mask = get32(&bytes[8]);
      std::erase_if(log, [&](const auto& old) {
        return &old != &log.front() && old[1] == 5 && old.size() >= 12 &&
               (get32(&old[8]) & ~mask) == 0;
      });
    }
    log.push_back(std::move(bytes));
  };
  if (minor == 0) {
    model_.versionRequests[r[0]] = std::move(bytes);
  } else if (ext == "RENDER") {
    switch (minor) {
      case 4:   // CreatePicture
      case 17:  // CreateGlyphSet
      case 18:  // ReferenceGlyphSet
      case 33:  // CreateSolidFill
      case 34:  // CreateLinearGradient
      case 35:  // CreateRadialGradient
      case 36:  // CreateConicalGradient
        create(model_.renderObjects);
        break;
      case 27:  // CreateCursor (from a picture)
      case 31:  // CreateAnimCursor
        create(model_.cursors);
        break;
      case 5:  // ChangePicture
      case 6:  // SetPictureClipRectangles
        // A clip mask or rectangles replace a clip set from a region.
        if (minor == 6 || (r.size() >= 12 && (get32(&r[8]) & kCpClipMask)))
          model_.pictureClips.erase(id);
        change(model_.renderObjects);
        break;
      case 20:  // AddGlyphs
      case 22:  // FreeGlyphs
      case 28:  // SetPictureTransform
      case 30:  // SetPictureFilter
        change(model_.renderObjects);
        break;
      case 7:   // FreePicture
      case 19:  // FreeGlyphSet
        model_.renderObjects.erase(id);
        model_.pictureClips.erase(id);
        mayRelease_ = true;
        break;
      default:
        break;
    }
  } else if (ext == "XFIXES") {
    if (minor >= 5 && minor <= 9) {  // CreateRegion, ...FromBitmap, Window, GC, Picture
      model_.regions[id] = r[0];
    } else if (minor == 10) {  // DestroyRegion
      model_.regions.erase(id);
    } else if (minor >= 20 && minor <= 22) {
      modelRegionUse(r);
    } else if ((minor == 2 || minor == 3) && r.size() >= 12) {
      // SelectSelectionInput (window, selection, mask), SelectCursorInput (window, mask).
      if (Window* w = model_.window(id)) {
        std::erase_if(w->xfixesSelects, [&](const auto& old) {
          return old[1] == minor && (minor == 3 || get32(&old[8]) == get32(&r[8]));
        });
        w->xfixesSelects.push_back(std::move(bytes));
      }
    }
  } else if (ext == "SHAPE") {
    // Rectangles, Mask, Combine, Offset name their window at 8; SelectInput at 4.
    std::uint32_t window = minor >= 1 && minor <= 4 && r.size() >= 12 ? get32(&r[8])
                           : minor == 6                               ? id
                                                                      : 0;
    if (Window* w = model_.window(window)) {
      // An operation Set (0) on a shape kind replaces whatever built it before.
      if (minor >= 1 && minor <= 3 && bytes[4] == 0)
        std::erase_if(w->shapeRequests, [&](const auto& old) {
          std::uint8_t kind = old[1] == 4 ? old[4] : old[5];  // Offset has no operation
          return old[1] >= 1 && old[1] <= 4 && kind == bytes[5];
        });
      w->shapeRequests.push_back(std::move(bytes));
    }
  }
}

// XFIXES SetGCClipRegion (20), SetWindowShapeRegion (21), SetPictureClipRegion (22).
void Tracker::modelRegionUse(std::span<const std::uint8_t> r) {
  std::uint8_t minor = r[1];
  std::uint32_t target = get32(&r[4]);
  if (minor == 21) {
    if (r.size() < 20) return;
    // window, kind, pad, x offset, y offset, region
    if (Window* w = model_.window(target)) {
      if (get32(&r[16]))
        w->regionShapes[r[8]] = r[0];
      else
        w->regionShapes.erase(r[8]);
    }
    return;
  }
  if (r.size() < 16) return;
  // gc or picture, region, clip x origin, clip y origin
  std::uint32_t region = get32(&r[8]);
  std::optional<RegionClip> clip;
  if (region) clip = RegionClip{r[0], std::int16_t(get16(&r[12])), std::int16_t(get16(&r[14]))};
  if (minor == 20) {
    auto it = model_.gcs.find(target);
    if (it == model_.gcs.end()) return;
    Gc& gc = it->second;
    gc.regionClip = clip;
    gc.clipRectangles.clear();
    gc.values[kGcClipXOrigin] = std::uint16_t(get16(&r[12]));
    gc.values[kGcClipYOrigin] = std::uint16_t(get16(&r[14]));
    // None clears the clip; a region replaces the clip mask.
    gc.values[kGcClipMask] = 0;
    if (region) gc.values.erase(kGcClipMask);
    mayRelease_ = true;  // a clip pixmap may be unused now
    return;
  }
  auto it = model_.renderObjects.find(target);
  if (it == model_.renderObjects.end()) return;
  // Clip rectangles set before are moot now.
  auto& log = it->second.requests;
  std::erase_if(log, [&](const auto& old) { return &old != &log.front() && old[1] == 6; });
  if (clip) {
    model_.pictureClips[target] = *clip;
  } else {
    model_.pictureClips.erase(target);
    // No clip: what a ChangePicture of the clip mask to None does.
    std::vector<std::uint8_t> none(16, 0);
    none[0] = log.front()[0];
    none[1] = 5;
    put16(&none[2], 4);
    put32(&none[4], target);
    put32(&none[8], kCpClipMask);
    log.push_back(std::move(none));
  }
}

void Tracker::serverMessage(std::span<const std::uint8_t> m) {
  if (m.size() < 32) return;
  std::uint8_t kind = m[0] & 0x7f;
  if (kind != 0 && kind != 1) {
    ++events_;
    constexpr std::uint8_t kSelectionClear = 29;
    // Another client took a selection the client owned.
    if (kind == kSelectionClear)
      if (auto it = model_.selections.find(get32(&m[12]));
          it != model_.selections.end() && it->second == get32(&m[8]))
        model_.selections.erase(it);
    return;
  }
  std::uint16_t seq = get16(&m[2]);
  // Requests before this one that are still waiting will never be answered
  // (an error took their place, or they had no reply after all).
  while (!pending_.empty() && after(seq, std::uint16_t(pending_.front().sequence)))
    pending_.pop_front();
  bool matches = !pending_.empty() && std::uint16_t(pending_.front().sequence) == seq;
  if (kind == 0) {
    ++errors_;
    if (matches) pending_.pop_front();
    return;
  }
  ++replies_;
  if (!matches) return;
  modelReply(pending_.front(), m);
  // Multi-reply requests (ListFontsWithInfo) stay owed until a later sequence
  // number shows up; every other reply settles its request.
  if (pending_.front().major != 50) pending_.pop_front();
}

std::uint8_t Tracker::renderMajor() const {
  for (const auto& [major, use] : byMajor_)
    if (use.name == "RENDER") return major;
  return 0;
}

bool Tracker::holdFree(std::span<std::uint8_t> request) {
  return held_.holdFree(request, model_, renderMajor());
}

std::vector<std::vector<std::uint8_t>> Tracker::releaseHeld() {
  std::vector<std::vector<std::uint8_t>> frees;
  if (!mayRelease_ || held_.empty()) return frees;
  mayRelease_ = false;
  // Freeing a held picture may free the pixmap under it: until nothing moves.
  for (auto released = held_.releasable(model_); !released.empty();
       released = held_.releasable(model_)) {
    for (const auto& r : released) {
      std::vector<std::uint8_t> free(8, 0);
      free[0] = r.picture ? renderMajor() : std::uint8_t(FreePixmap);
      free[1] = r.picture ? 7 : 0;  // RENDER FreePicture
      put16(&free[2], 2);
      put32(&free[4], r.id);
      if (r.picture)
        model_.renderObjects.erase(r.id);
      else
        model_.pixmaps.erase(r.id);
      frees.push_back(std::move(free));
    }
  }
  return frees;
}

void Tracker::modelReply(const Pending& p, std::span<const std::uint8_t> m) {
  if (p.major == InternAtom) {
    model_.noteAtom(p.name, get32(&m[8]));
  } else if (p.major == GetAtomName) {
    model_.noteAtom(stringAt(m, 32, get16(&m[8])), std::uint32_t(std::stoul(p.name)));
  } else if (p.major == AllocColor) {
    // red, green, blue (as the server has them), pixel
    model_.allocColor(p.colormap, get32(&m[16]),
                      sharedColor(get16(&m[8]), get16(&m[10]), get16(&m[12])));
  } else if (p.major == AllocNamedColor) {
    // pixel, exact red, green, blue, visual red, green, blue
    model_.allocColor(p.colormap, get32(&m[8]),
                      sharedColor(get16(&m[18]), get16(&m[20]), get16(&m[22])));
  } else if (p.major == AllocColorCells) {
    // Cells without planes (masks_len 0): with planes, every combination of
    // pixel and masks is the client's too, which the proxy does not follow.
    std::size_t pixels = get16(&m[8]);
    if (get16(&m[10]) == 0 && 32 + pixels * 4 <= m.size())
      for (std::size_t i = 0; i < pixels; ++i) {
        ColorCell cell;
        cell.writable = true;
        model_.allocColor(p.colormap, get32(&m[32 + 4 * i]), cell);
      }
  } else if (p.major == QueryExtension && m[8]) {
    ExtensionUse use{findExtension(p.name), p.name, m[9], m[10], m[11]};
    byMajor_[use.major] = use;
  }
}

void Tracker::modelRequest(std::span<const std::uint8_t> r) {
  const RequestLayout* layout = findRequest(coreProtocol(), r[0]);
  if (!layout || r.size() < layout->request.fixedSize) return;
  auto values = [&] {
    ValueMap out;
    if (layout->request.values)
      for (auto [bit, v] : decodeValues(*layout->request.values, r)) out[bit] = v;
    return out;
  };
  switch (r[0]) {
    case ChangeWindowAttributes:
    case DestroyWindow:
    case DestroySubwindows:
    case ChangeGC:
    case FreeGC:
    case FreeCursor:
      mayRelease_ = true;
      break;
    default:
      break;
  }
  switch (r[0]) {
    case CreateWindow: {
      Window w;
      w.depth = r[1];
      w.id = get32(&r[4]);
      w.parent = get32(&r[8]);
      w.x = std::int16_t(get16(&r[12]));
      w.y = std::int16_t(get16(&r[14]));
      w.width = get16(&r[16]);
      w.height = get16(&r[18]);
      w.borderWidth = get16(&r[20]);
      w.windowClass = get16(&r[22]);
      w.visual = get32(&r[24]);
      w.attributes = values();
      w.order = model_.nextOrder++;
      model_.windows[w.id] = std::move(w);
      break;
    }
    case ChangeWindowAttributes: {
      Window* w = model_.window(get32(&r[4]));
      ValueMap& into = w ? w->attributes : model_.foreignAttributes[get32(&r[4])];
      for (auto [bit, v] : values()) into[bit] = v;
      break;
    }
    case DestroyWindow:
      model_.destroyWindow(get32(&r[4]));
      break;
    case DestroySubwindows:
      model_.destroySubwindows(get32(&r[4]));
      break;
    case ReparentWindow:
      if (Window* w = model_.window(get32(&r[4]))) {
        w->parent = get32(&r[8]);
        w->x = std::int16_t(get16(&r[12]));
        w->y = std::int16_t(get16(&r[14]));
      }
      break;
    case MapWindow:
    case UnmapWindow:
      if (Window* w = model_.window(get32(&r[4]))) w->mapped = r[0] == MapWindow;
      break;
    case MapSubwindows:
    case UnmapSubwindows:
      for (auto& [id, w] : model_.windows)
        if (w.parent == get32(&r[4])) w.mapped = r[0] == MapSubwindows;
      break;
    case ConfigureWindow:
      if (Window* w = model_.window(get32(&r[4]))) {
        std::uint32_t sibling = 0;
        std::optional<std::uint8_t> stackMode;
        for (auto [bit, v] : values()) {
          if (bit == 0x1) w->x = std::int16_t(v);
          if (bit == 0x2) w->y = std::int16_t(v);
          if (bit == 0x4) w->width = std::uint16_t(v);
          if (bit == 0x8) w->height = std::uint16_t(v);
          if (bit == 0x10) w->borderWidth = std::uint16_t(v);
          if (bit == 0x20) sibling = v;
          if (bit == 0x40) stackMode = std::uint8_t(v);
        }
        if (stackMode) model_.restack(w->id, sibling, *stackMode);
      }
      break;
    case CirculateWindow:
      model_.circulate(get32(&r[4]), r[1]);
      break;
    case ChangeProperty: {
      Property p;
      p.type = get32(&r[12]);
      p.format = r[16];
      std::size_t bytes = std::size_t(get32(&r[20])) * (p.format / 8);
      if (24 + bytes > r.size()) break;
      p.data.assign(r.begin() + 24, r.begin() + 24 + std::ptrdiff_t(bytes));
      model_.changeProperty(get32(&r[4]), get32(&r[8]), r[1], std::move(p));
      break;
    }
    case DeleteProperty:
      model_.deleteProperty(get32(&r[4]), get32(&r[8]));
      break;
    case CreatePixmap:
      model_.pixmaps[get32(&r[4])] =
          Pixmap{get32(&r[4]), get32(&r[8]), r[1], get16(&r[12]), get16(&r[14])};
      break;
    case FreePixmap:
      model_.pixmaps.erase(get32(&r[4]));
      break;
    case CreateGC: {
      Gc gc;
      gc.id = get32(&r[4]);
      gc.drawable = get32(&r[8]);
      gc.values = values();
      if (auto p = model_.pixmaps.find(gc.drawable); p != model_.pixmaps.end())
        gc.depth = p->second.depth;
      else if (Window* w = model_.window(gc.drawable))
        gc.depth = w->depth;
      model_.gcs[gc.id] = std::move(gc);
      break;
    }
    case ChangeGC:
      if (auto it = model_.gcs.find(get32(&r[4])); it != model_.gcs.end()) {
        ValueMap changed = values();
        for (auto [bit, v] : changed) it->second.values[bit] = v;
        if (changed.count(kGcClipMask)) {
          it->second.regionClip.reset();
          it->second.clipRectangles.clear();
        }
      }
      break;
    case FreeGC:
      model_.gcs.erase(get32(&r[4]));
      break;
    case SetDashes:
    case SetClipRectangles:
      if (auto it = model_.gcs.find(get32(&r[4])); it != model_.gcs.end()) {
        (r[0] == SetDashes ? it->second.dashes : it->second.clipRectangles)
            .assign(r.begin(), r.end());
        if (r[0] == SetClipRectangles) {
          it->second.regionClip.reset();
          it->second.values.erase(kGcClipMask);
        }
      }
      break;
    case OpenFont:
      model_.fonts[get32(&r[4])] = stringAt(r, 12, get16(&r[8]));
      break;
    case SetSelectionOwner:
      if (model_.window(get32(&r[4])))
        model_.selections[get32(&r[8])] = get32(&r[4]);
      else
        model_.selections.erase(get32(&r[8]));
      break;
    case GrabButton:
    case GrabKey:
      if (Window* w = model_.window(get32(&r[4]))) {
        // A grab of the same button or key with the same modifiers replaces the old one.
        model_.ungrab(w->id, r[0], r[0] == GrabButton ? r[20] : r[10],
                      get16(&r[r[0] == GrabButton ? 22 : 8]));
        w->grabs.emplace_back(r.begin(), r.end());
      }
      break;
    case UngrabButton:
    case UngrabKey:
      model_.ungrab(get32(&r[4]), r[0] == UngrabButton ? GrabButton : GrabKey, r[1], get16(&r[8]));
      break;
    case CloseFont:
      model_.fonts.erase(get32(&r[4]));
      break;
    case CreateColormap:
    case CreateCursor:
    case CreateGlyphCursor: {
      auto& into = r[0] == CreateColormap ? model_.colormaps : model_.cursors;
      std::uint32_t id = get32(&r[4]);
      RecordedResource rec;
      rec.order = model_.nextOrder++;
      rec.requests.emplace_back(r.begin(), r.end());
      if (r[0] == CreateGlyphCursor)
        for (std::size_t at : {8, 12})
          if (auto f = model_.fonts.find(get32(&r[at])); f != model_.fonts.end())
            rec.fonts[f->first] = f->second;
      into[id] = std::move(rec);
      break;
    }
    case RecolorCursor:
      if (auto it = model_.cursors.find(get32(&r[4])); it != model_.cursors.end())
        it->second.requests.emplace_back(r.begin(), r.end());
      break;
    case FreeCursor:
      model_.cursors.erase(get32(&r[4]));
      break;
    case FreeColormap:
      model_.colormaps.erase(get32(&r[4]));
      model_.colors.erase(get32(&r[4]));
      break;
    case FreeColors:
      // colormap, plane mask, pixels
      for (std::size_t at = 12; at + 4 <= r.size(); at += 4)
        model_.freeColor(get32(&r[4]), get32(&r[at]));
      break;
    case StoreColors:
      // colormap, items of pixel, red, green, blue, flags, pad
      for (std::size_t at = 8; at + 12 <= r.size(); at += 12)
        model_.storeColor(get32(&r[4]), get32(&r[at]), r[at + 10], get16(&r[at + 4]),
                          get16(&r[at + 6]), get16(&r[at + 8]));
      break;
    case StoreNamedColor:
      // flags, colormap, pixel, name length, name
      if (auto cells = model_.colors.find(get32(&r[4])); cells != model_.colors.end())
        if (auto it = cells->second.find(get32(&r[8]));
            it != cells->second.end() && it->second.writable) {
          it->second.stored = true;
          it->second.storedName = stringAt(r, 16, get16(&r[12]));
          it->second.storedFlags = r[1];
        }
      break;
    default:
      break;
  }
}

}  // namespace ckpt::x11
