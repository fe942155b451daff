// Fetching atom names and pixmap contents (see ServerFetch.hpp).
#include "x11proxy/reattach/ServerFetch.hpp"

#include <fmt/format.h>
#include <xcb/render.h>
#include <xcb/shape.h>
#include <xcb/xfixes.h>

#include <cstdlib>
#include <set>

#include "core/util/Error.hpp"
#include "x11proxy/reattach/ServerTime.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint32_t kFirstAtom = 69;  // 1-68 are predefined, the same everywhere
constexpr std::uint32_t kAtomBatch = 512;

struct FreeReply {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using Reply = std::unique_ptr<T, FreeReply>;

std::string atomName(xcb_get_atom_name_reply_t* r) {
  return std::string(xcb_get_atom_name_name(r), std::size_t(xcb_get_atom_name_name_length(r)));
}

// Every atom of the server: atoms are never freed, so they are numbered
// without gaps from 69 up to the last one interned.
void allAtoms(xcb_connection_t* c, std::map<std::uint32_t, std::string>& out) {
  for (std::uint32_t first = kFirstAtom;; first += kAtomBatch) {
    std::vector<xcb_get_atom_name_cookie_t> cookies;
    for (std::uint32_t a = first; a < first + kAtomBatch; ++a)
      cookies.push_back(xcb_get_atom_name(c, a));
    bool end = false;
    for (std::uint32_t i = 0; i < kAtomBatch; ++i) {
      xcb_generic_error_t* err = nullptr;
      Reply<xcb_get_atom_name_reply_t> r(xcb_get_atom_name_reply(c, cookies[i], &err));
      std::free(err);
      if (!r) {
        end = true;
        continue;
      }
      if (!end) out[first + i] = atomName(r.get());
    }
    if (end) return;
  }
}

// The rectangles of region `id` (x, y, width, height each); false when the
// server did not give them.
bool fetchRegion(xcb_connection_t* c, std::uint32_t id, std::vector<std::int16_t>& rects) {
  Reply<xcb_xfixes_fetch_region_reply_t> r(
      xcb_xfixes_fetch_region_reply(c, xcb_xfixes_fetch_region(c, id), nullptr));
  if (!r) return false;
  const xcb_rectangle_t* rs = xcb_xfixes_fetch_region_rectangles(r.get());
  for (int i = 0; i < xcb_xfixes_fetch_region_rectangles_length(r.get()); ++i)
    rects.insert(rects.end(),
                 {rs[i].x, rs[i].y, std::int16_t(rs[i].width), std::int16_t(rs[i].height)});
  return true;
}

}  // namespace

std::vector<PictFormat> queryPictFormats(xcb_connection_t* c) {
  const xcb_query_extension_reply_t* render = xcb_get_extension_data(c, &xcb_render_id);
  if (!render || !render->present) return {};
  std::free(xcb_render_query_version_reply(c, xcb_render_query_version(c, 0, 11), nullptr));
  Reply<xcb_render_query_pict_formats_reply_t> r(
      xcb_render_query_pict_formats_reply(c, xcb_render_query_pict_formats(c), nullptr));
  if (!r) return {};
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(r.get());
  return parsePictFormats({bytes, 32 + std::size_t(r->length) * 4});
}

FetchedState fetchFromServer(const Upstream& side, const ClientModel& model,
                             const Translator& current) {
  xcb_connection_t* c = side.xcb();
  FetchedState f;
  f.server = side.view();
  if (!current.active()) {
    // The client's view is this server's: every atom it has may be one the client holds.
    allAtoms(c, f.atomNames);
  } else {
    std::vector<std::pair<std::uint32_t, xcb_get_atom_name_cookie_t>> cookies;
    for (auto [mine, theirs] : current.atomsToServer())
      cookies.emplace_back(mine, xcb_get_atom_name(c, theirs));
    for (auto& [mine, cookie] : cookies) {
      xcb_generic_error_t* err = nullptr;
      Reply<xcb_get_atom_name_reply_t> r(xcb_get_atom_name_reply(c, cookie, &err));
      std::free(err);
      if (r) f.atomNames[mine] = atomName(r.get());
    }
  }

  std::vector<std::pair<std::uint32_t, xcb_get_image_cookie_t>> images;
  for (const auto& [id, p] : model.pixmaps)
    images.emplace_back(id, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP,
                                          current.active() ? current.idToServer(id) : id, 0, 0,
                                          p.width, p.height, ~0u));
  for (auto& [id, cookie] : images) {
    xcb_generic_error_t* err = nullptr;
    Reply<xcb_get_image_reply_t> r(xcb_get_image_reply(c, cookie, &err));
    if (!r) {
      f.warnings.push_back("cannot read pixmap " + std::to_string(id) + " (X error " +
                           std::to_string(err ? err->error_code : 0) + "): it comes back empty");
      std::free(err);
      continue;
    }
    const std::uint8_t* data = xcb_get_image_data(r.get());
    auto& image = f.pixmapImages[id];
    image.assign(data, data + xcb_get_image_data_length(r.get()));
    // Pixels of the default colormap, in the client's values (the replay's
    // PutImage maps them to the next server's).
    if (current.mapsPixels() && r->depth == 8 && f.server.rootDepth == 8)
      for (auto& b : image) b = std::uint8_t(current.knownPixelToClient(b));
  }
  // Shapes: of the kinds the client set (bounding 0, clip 1, input 2).
  for (const auto& [id, w] : model.windows) {
    std::set<std::uint8_t> kinds;
    for (const auto& r : w.shapeRequests)
      if (r.size() >= 8 && r[1] >= 1 && r[1] <= 4) kinds.insert(r[1] == 4 ? r[4] : r[5]);
    for (auto [kind, major] : w.regionShapes) kinds.insert(kind);
    for (std::uint8_t kind : kinds) {
      std::uint32_t sid = current.active() ? current.idToServer(id) : id;
      Reply<xcb_shape_get_rectangles_reply_t> r(
          xcb_shape_get_rectangles_reply(c, xcb_shape_get_rectangles(c, sid, kind), nullptr));
      if (!r) continue;
      FetchedState::Shape shape{kind, r->ordering, {}};
      const xcb_rectangle_t* rects = xcb_shape_get_rectangles_rectangles(r.get());
      for (int i = 0; i < xcb_shape_get_rectangles_rectangles_length(r.get()); ++i)
        shape.rects.insert(shape.rects.end(), {rects[i].x, rects[i].y, std::int16_t(rects[i].width),
                                               std::int16_t(rects[i].height)});
      f.shapes[id].push_back(std::move(shape));
    }
  }
  bool clips = !model.pictureClips.empty();
  for (const auto& [id, gc] : model.gcs) clips = clips || gc.regionClip;
  if (!model.regions.empty() || clips) {
    // XFIXES answers requests past version 1 only after this.
    std::free(xcb_xfixes_query_version_reply(c, xcb_xfixes_query_version(c, 5, 0), nullptr));
    auto server = [&](std::uint32_t id) { return current.active() ? current.idToServer(id) : id; };
    for (const auto& [id, major] : model.regions)
      if (!fetchRegion(c, server(id), f.regions[id]))
        f.warnings.push_back("region " + std::to_string(id) + ": the server did not give it");
    // A clip is read as a region of the proxy's own, made from it.
    auto clipOf = [&](std::uint32_t id, bool picture, std::vector<std::int16_t>& into) {
      xcb_xfixes_region_t temp = xcb_generate_id(c);
      if (picture)
        xcb_xfixes_create_region_from_picture(c, temp, server(id));
      else
        xcb_xfixes_create_region_from_gc(c, temp, server(id));
      bool ok = fetchRegion(c, temp, into);
      xcb_xfixes_destroy_region(c, temp);
      if (!ok)
        f.warnings.push_back(
            fmt::format("the clip of {} 0x{:x} could not be read: it comes back "
                        "unclipped",
                        picture ? "picture" : "GC", id));
    };
    for (const auto& [id, gc] : model.gcs)
      if (gc.regionClip) clipOf(id, false, f.gcClips[id]);
    for (const auto& [id, clip] : model.pictureClips) clipOf(id, true, f.pictureClips[id]);
  }
  f.pictFormats = queryPictFormats(c);
  if (!model.grabbedKeycodes().empty())
    f.keyboard = fetchKeyboardMap(c, side.view().minKeycode, side.view().maxKeycode);
  f.serverTime = serverTime(c, side.view().root);
  if (Reply<xcb_get_input_focus_reply_t> r(
          xcb_get_input_focus_reply(c, xcb_get_input_focus(c), nullptr));
      r) {
    std::uint32_t focus = current.active() ? current.idToClient(r->focus) : r->focus;
    if (model.windows.count(focus)) f.focus = focus;
  }
  if (xcb_connection_has_error(c))
    throw Error("x11: the X server " + side.display() + " closed the connection while the " +
                "client's state was read from it");
  return f;
}

}  // namespace ckpt::x11
