// Building the replay of a client's state (see Replay.hpp).
#include "x11proxy/reattach/Replay.hpp"
#include "x11proxy/proto/CoreOpcodes.hpp"

#include <algorithm>
#include <functional>
#include <set>

#include "x11proxy/proto/Wire.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint32_t kCwBackPixmap = 0x1, kCwBorderPixmap = 0x4, kCwColormap = 0x2000,
                        kCwCursor = 0x4000, kCwEventMask = 0x800;
constexpr std::uint32_t kGcTile = 0x400, kGcStipple = 0x800, kGcFont = 0x4000,
                        kGcClipXOrigin = 0x20000, kGcClipYOrigin = 0x40000, kGcClipMask = 0x80000;
// XFIXES minor opcodes.
enum : std::uint8_t {
  kCreateRegion = 5,
  kDestroyRegion = 10,
  kSetGcClipRegion = 20,
  kSetWindowShapeRegion = 21,
  kSetPictureClipRegion = 22,
};
// Without BIG-REQUESTS a request holds at most 65535 words.
constexpr std::size_t kMaxRequest = 65535 * 4;

// One request in the normalised form, built field by field.
class Req {
 public:
  Req(std::uint8_t major, std::uint8_t data) : b_{major, data, 0, 0} {}
  Req& u8(std::uint8_t v) {
    b_.push_back(v);
    return *this;
  }
  Req& u16(std::uint16_t v) {
    b_.resize(b_.size() + 2);
    put16(&b_[b_.size() - 2], v);
    return *this;
  }
  Req& u32(std::uint32_t v) {
    b_.resize(b_.size() + 4);
    put32(&b_[b_.size() - 4], v);
    return *this;
  }
  Req& bytes(const std::uint8_t* p, std::size_t n) {
    b_.insert(b_.end(), p, p + n);
    return *this;
  }
  Req& values(const ValueMap& v) {
    std::uint32_t mask = 0;
    for (auto [bit, value] : v) mask |= bit;
    u32(mask);
    for (auto [bit, value] : v) u32(value);  // std::map: in bit order, as the wire wants
    return *this;
  }
  std::vector<std::uint8_t> done() {
    b_.resize((b_.size() + 3) & ~std::size_t(3), 0);
    return std::move(b_);
  }

 private:
  std::vector<std::uint8_t> b_;
};

class Planner {
 public:
  explicit Planner(const ReplayInput& in) : in_(in), m_(in.model) {
    nextTemp_ = in.client.idBase | in.client.idMask;
  }

  ReplayPlan run() {
    for (const auto& [major, req] : m_.versionRequests) add(req);
    for (const auto& [id, name] : m_.fonts) add(openFont(id, name));
    pixmaps();
    regions();
    gcs();
    colormaps();
    windows();
    recorded();
    for (const auto& [id, w] : m_.windows)
      if (auto c = w.attributes.find(kCwCursor);
          c != w.attributes.end() && (c->second == 0 || made_.count(c->second)))
        add(Req(op::ChangeWindowAttributes, 0).u32(id).values({{kCwCursor, c->second}}).done());
    if (auto root = m_.foreignAttributes.find(in_.client.root); root != m_.foreignAttributes.end())
      if (auto mask = root->second.find(kCwEventMask); mask != root->second.end())
        add(Req(op::ChangeWindowAttributes, 0)
                .u32(in_.client.root)
                .values({{kCwEventMask, mask->second}})
                .done());
    // Children before their parents: mapping a top-level window last exposes
    // its whole tree once.
    std::vector<const Window*> mapped;
    for (const Window* w : treeOrder_)
      if (w->mapped) mapped.push_back(w);
    for (auto it = mapped.rbegin(); it != mapped.rend(); ++it)
      add(Req(op::MapWindow, 0).u32((*it)->id).done());
    // Passive grabs (their cursors and confining windows exist now), XFIXES
    // event selections.
    for (const Window* w : treeOrder_) {
      for (const auto& grab : w->grabs) add(grab);
      for (const auto& select : w->xfixesSelects) add(select);
    }
    // Selections and the focus are taken now (CurrentTime): the client's own
    // times belong to the old server's clock.
    for (const auto& [selection, owner] : m_.selections)
      add(Req(op::SetSelectionOwner, 0).u32(owner).u32(selection).u32(0).done());
    if (in_.fetched.focus && m_.windows.count(in_.fetched.focus))
      add(Req(op::SetInputFocus, 1).u32(in_.fetched.focus).u32(0).done());  // revert to PointerRoot
    return std::move(plan_);
  }

 private:
  void add(std::vector<std::uint8_t> r) { plan_.requests.push_back(std::move(r)); }
  void warn(std::string w) { plan_.warnings.push_back(std::move(w)); }

  bool used(std::uint32_t id) const {
    return m_.windows.count(id) || m_.pixmaps.count(id) || m_.gcs.count(id) || m_.fonts.count(id) ||
           m_.cursors.count(id) || m_.colormaps.count(id) || m_.renderObjects.count(id) ||
           m_.regions.count(id);
  }
  // An id of the client's range it does not use, for the proxy's own
  // short-lived resources (freed again within the replay): from the top of
  // the range, which a client allocating upwards reaches last.
  std::uint32_t tempId() {
    while (used(nextTemp_)) --nextTemp_;
    return nextTemp_--;
  }
  bool pixmapExists(std::uint32_t id) const { return m_.pixmaps.count(id) != 0; }

  std::vector<std::uint8_t> openFont(std::uint32_t id, const std::string& asked) const {
    auto sub = in_.fontSubstitutes.find(asked);
    const std::string& name = sub == in_.fontSubstitutes.end() ? asked : sub->second;
    return Req(op::OpenFont, 0)
        .u32(id)
        .u16(std::uint16_t(name.size()))
        .u16(0)
        .bytes(reinterpret_cast<const std::uint8_t*>(name.data()), name.size())
        .done();
  }

  void pixmaps() {
    for (const auto& [id, p] : m_.pixmaps) {
      add(Req(op::CreatePixmap, p.depth)
              .u32(id)
              .u32(in_.client.root)
              .u16(p.width)
              .u16(p.height)
              .done());
      auto image = in_.fetched.pixmapImages.find(id);
      if (image == in_.fetched.pixmapImages.end()) continue;
      const PixmapFormat* from = in_.fetched.server.format(p.depth);
      const PixmapFormat* to = in_.target.format(p.depth);
      if (!from || !to || from->bitsPerPixel != to->bitsPerPixel ||
          from->scanlinePad != to->scanlinePad ||
          in_.fetched.server.imageByteOrder != in_.target.imageByteOrder) {
        warn("pixmap " + std::to_string(id) + " of depth " + std::to_string(p.depth) +
             ": the new server lays out its pixels differently; it comes back empty");
        continue;
      }
      std::size_t pad = from->scanlinePad ? from->scanlinePad : 32;
      std::size_t stride = (std::size_t(p.width) * from->bitsPerPixel + pad - 1) / pad * pad / 8;
      const auto& data = image->second;
      if (stride == 0 || stride * p.height > data.size() || stride + 24 > kMaxRequest) {
        warn("pixmap " + std::to_string(id) + ": its contents could not be read whole");
        continue;
      }
      std::uint32_t gc = tempId();
      add(Req(op::CreateGC, 0).u32(gc).u32(id).u32(0).done());
      std::size_t rowsPerRequest = (kMaxRequest - 24) / stride;
      for (std::size_t y = 0; y < p.height; y += rowsPerRequest) {
        std::size_t rows = std::min<std::size_t>(rowsPerRequest, p.height - y);
        add(Req(op::PutImage, 2)  // ZPixmap
                .u32(id)
                .u32(gc)
                .u16(p.width)
                .u16(std::uint16_t(rows))
                .u16(0)
                .u16(std::uint16_t(y))
                .u8(0)
                .u8(p.depth)
                .u16(0)
                .bytes(data.data() + y * stride, rows * stride)
                .done());
      }
      add(Req(op::FreeGC, 0).u32(gc).done());
    }
  }

  // XFIXES regions from the rectangles the old server held.
  void regions() {
    for (const auto& [id, major] : m_.regions) {
      Req r(major, kCreateRegion);
      r.u32(id);
      if (auto it = in_.fetched.regions.find(id); it != in_.fetched.regions.end())
        for (std::int16_t v : it->second) r.u16(std::uint16_t(v));
      add(r.done());
    }
  }

  void gcs() {
    for (const auto& [id, gc] : m_.gcs) {
      ValueMap values;
      for (auto [bit, v] : gc.values) {
        bool pixmapValue = bit == kGcTile || bit == kGcStipple || bit == kGcClipMask;
        if (pixmapValue && v != 0 && !pixmapExists(v)) {
          warn("GC " + std::to_string(id) + ": its tile, stipple or clip pixmap was freed; " +
               "left at its default");
          continue;
        }
        if (bit == kGcFont && !m_.fonts.count(v)) continue;  // closed: the server keeps a copy
        values[bit] = v;
      }
      // Windows come later (their attributes may need GCs' pixmaps, not the
      // reverse): a GC made for a window is made on the root, or on a scratch
      // pixmap of its depth; only the depth matters to the GC.
      std::uint32_t drawable = gc.drawable, scratch = 0;
      if (!pixmapExists(drawable)) {
        drawable = in_.client.root;
        if (gc.depth && gc.depth != in_.client.rootDepth) {
          scratch = tempId();
          add(Req(op::CreatePixmap, gc.depth)
                  .u32(scratch)
                  .u32(in_.client.root)
                  .u16(1)
                  .u16(1)
                  .done());
          drawable = scratch;
        }
      }
      add(Req(op::CreateGC, 0).u32(id).u32(drawable).values(values).done());
      if (scratch) add(Req(op::FreePixmap, 0).u32(scratch).done());
      if (!gc.dashes.empty()) add(gc.dashes);
      if (!gc.clipRectangles.empty()) add(gc.clipRectangles);
      if (gc.regionClip) {
        auto origin = [&](std::uint32_t bit) {
          auto v = gc.values.find(bit);
          return v == gc.values.end() ? std::uint16_t(0) : std::uint16_t(v->second);
        };
        clipFromRegion(gc.regionClip->xfixesMajor, kSetGcClipRegion, id, in_.fetched.gcClips,
                       origin(kGcClipXOrigin), origin(kGcClipYOrigin));
      }
    }
  }

  // A clip the client set from a region (since changed or destroyed, maybe):
  // a region of the proxy's own with the clip's rectangles as the old server
  // held them, used the same way and destroyed.
  void clipFromRegion(std::uint8_t xfixes, std::uint8_t minor, std::uint32_t target,
                      const std::map<std::uint32_t, std::vector<std::int16_t>>& fetched,
                      std::uint16_t x, std::uint16_t y) {
    auto rects = fetched.find(target);
    if (rects == fetched.end()) return;
    std::uint32_t temp = tempRegion(xfixes, rects->second);
    add(Req(xfixes, minor).u32(target).u32(temp).u16(x).u16(y).done());
    add(Req(xfixes, kDestroyRegion).u32(temp).done());
  }

  std::uint32_t tempRegion(std::uint8_t xfixes, const std::vector<std::int16_t>& rects) {
    std::uint32_t temp = tempId();
    Req r(xfixes, kCreateRegion);
    r.u32(temp);
    for (std::int16_t v : rects) r.u16(std::uint16_t(v));
    add(r.done());
    return temp;
  }

  void colormaps() {
    for (const auto& [id, c] : m_.colormaps) {
      std::vector<std::uint8_t> r = c.requests.front();
      // Its window only says which screen: the client's may not exist yet.
      if (r.size() >= 12) put32(&r[8], in_.client.root);
      add(std::move(r));
    }
  }

  void windows() {
    std::map<std::uint32_t, std::vector<const Window*>> children;
    std::vector<const Window*> tops;
    for (const auto& [id, w] : m_.windows) {
      if (m_.windows.count(w.parent))
        children[w.parent].push_back(&w);
      else
        tops.push_back(&w);
    }
    auto byOrder = [](const Window* a, const Window* b) { return a->order < b->order; };
    std::sort(tops.begin(), tops.end(), byOrder);
    std::function<void(const Window*)> visit = [&](const Window* w) {
      treeOrder_.push_back(w);
      auto it = children.find(w->id);
      if (it == children.end()) return;
      std::sort(it->second.begin(), it->second.end(), byOrder);
      for (const Window* c : it->second) visit(c);
    };
    for (const Window* w : tops) visit(w);

    for (const Window* w : treeOrder_) {
      ValueMap values;
      for (auto [bit, v] : w->attributes) {
        if (bit == kCwCursor) continue;  // once the cursors exist
        if ((bit == kCwBackPixmap && v > 1 && !pixmapExists(v)) ||
            (bit == kCwBorderPixmap && v != 0 && !pixmapExists(v))) {
          warn("window " + std::to_string(w->id) +
               ": its background or border pixmap was freed; left at its default");
          continue;
        }
        if (bit == kCwColormap && v != 0 && v != in_.client.defaultColormap &&
            !m_.colormaps.count(v))
          continue;
        values[bit] = v;
      }
      // A window whose parent belongs to another client comes back on the root.
      std::uint32_t parent = m_.windows.count(w->parent) ? w->parent : in_.client.root;
      add(Req(op::CreateWindow, w->depth)
              .u32(w->id)
              .u32(parent)
              .u16(std::uint16_t(w->x))
              .u16(std::uint16_t(w->y))
              .u16(w->width)
              .u16(w->height)
              .u16(w->borderWidth)
              .u16(w->windowClass)
              .u32(w->visual)
              .values(values)
              .done());
      for (const auto& [atom, p] : w->properties) {
        std::size_t unit = p.format / 8 ? p.format / 8 : 1;
        add(Req(op::ChangeProperty, 0)
                .u32(w->id)
                .u32(atom)
                .u32(p.type)
                .u8(p.format)
                .u8(0)
                .u16(0)
                .u32(std::uint32_t(p.data.size() / unit))
                .bytes(p.data.data(), p.data.size())
                .done());
      }
      shapes(*w);
    }
  }

  // The window's shapes as the old server held them (the pixmaps they were
  // made from are usually gone), then its SHAPE event selection.
  void shapes(const Window& w) {
    std::uint8_t major = 0;
    for (const auto& r : w.shapeRequests) major = r[0];
    if (!major && w.regionShapes.empty()) return;
    if (auto it = in_.fetched.shapes.find(w.id); it != in_.fetched.shapes.end()) {
      for (const auto& shape : it->second) {
        if (!major) {
          // Shaped through XFIXES alone: the client may not know SHAPE's opcode.
          auto xfixes = w.regionShapes.find(shape.kind);
          if (xfixes == w.regionShapes.end()) continue;
          std::uint32_t temp = tempRegion(xfixes->second, shape.rects);
          add(Req(xfixes->second, kSetWindowShapeRegion)
                  .u32(w.id)
                  .u8(shape.kind)
                  .u8(0)
                  .u16(0)
                  .u16(0)
                  .u16(0)
                  .u32(temp)
                  .done());
          add(Req(xfixes->second, kDestroyRegion).u32(temp).done());
          continue;
        }
        Req r(major, 1);  // ShapeRectangles
        r.u8(0).u8(shape.kind).u8(shape.ordering).u8(0).u32(w.id).u16(0).u16(0);
        for (std::int16_t v : shape.rects) r.u16(std::uint16_t(v));
        add(r.done());
      }
    }
    for (const auto& r : w.shapeRequests)
      if (r[1] == 6) add(r);  // SelectInput
  }

  // RENDER objects and cursors, in the order the client made them.
  void recorded() {
    std::vector<std::pair<std::uint32_t, const RecordedResource*>> all;
    for (const auto& [id, r] : m_.renderObjects) all.emplace_back(id, &r);
    for (const auto& [id, r] : m_.cursors) all.emplace_back(id, &r);
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.second->order < b.second->order; });
    for (const auto& [id, rec] : all) {
      std::vector<std::uint8_t> create = rec->requests.front();
      if (create.size() >= 16 && create[0] == op::CreateCursor &&
          (!pixmapExists(get32(&create[8])) ||
           (get32(&create[12]) && !pixmapExists(get32(&create[12]))))) {
        warn("cursor " + std::to_string(id) +
             ": the pixmaps it was made from were freed; windows keep the default cursor");
        continue;
      }
      if (create.size() >= 12 && create[0] != op::CreateCursor &&
          create[0] != op::CreateGlyphCursor && create[1] == 27 &&
          !m_.renderObjects.count(get32(&create[8]))) {
        warn("cursor " + std::to_string(id) +
             ": the picture it was made from was freed; windows keep the default cursor");
        continue;
      }
      std::vector<std::pair<std::uint32_t, std::uint32_t>> reopened;  // client fid → temp
      if (create.size() >= 16 && create[0] == op::CreateGlyphCursor) {
        for (std::size_t at : {8, 12}) {
          std::uint32_t fid = get32(&create[at]);
          auto name = rec->fonts.find(fid);
          auto open = m_.fonts.find(fid);
          if (fid == 0 || name == rec->fonts.end() ||
              (open != m_.fonts.end() && open->second == name->second))
            continue;
          // Closed since (or reused for another font): open it again for this cursor.
          std::uint32_t temp = 0;
          for (auto [f, t] : reopened)
            if (f == fid) temp = t;
          if (!temp) {
            temp = tempId();
            reopened.emplace_back(fid, temp);
            add(openFont(temp, name->second));
          }
          put32(&create[at], temp);
        }
      }
      add(std::move(create));
      for (std::size_t i = 1; i < rec->requests.size(); ++i) add(rec->requests[i]);
      if (auto clip = m_.pictureClips.find(id); clip != m_.pictureClips.end())
        clipFromRegion(clip->second.xfixesMajor, kSetPictureClipRegion, id,
                       in_.fetched.pictureClips, std::uint16_t(clip->second.x),
                       std::uint16_t(clip->second.y));
      for (auto [fid, temp] : reopened) add(Req(op::CloseFont, 0).u32(temp).done());
      made_.insert(id);
    }
  }

  const ReplayInput& in_;
  const ClientModel& m_;
  ReplayPlan plan_;
  std::uint32_t nextTemp_;
  std::vector<const Window*> treeOrder_;
  std::set<std::uint32_t> made_;
};

}  // namespace

ReplayPlan planReplay(const ReplayInput& in) {
  return Planner(in).run();
}

std::vector<std::uint8_t> encodeRequest(std::vector<std::uint8_t> r) {
  std::size_t words = r.size() / 4;
  if (words <= 0xffff) {
    put16(&r[2], std::uint16_t(words));
    return r;
  }
  put16(&r[2], 0);
  std::uint8_t length[4];
  put32(length, std::uint32_t(words + 1));
  r.insert(r.begin() + 4, length, length + 4);
  return r;
}

}  // namespace ckpt::x11
