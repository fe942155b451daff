// A picture of a client's main window (Session::largestWindowPicture), for
// the thumbnail a dump stores.
#include <cstdlib>
#include <memory>

#include "x11proxy/proxy/Session.hpp"

namespace ckpt::x11 {
namespace {

// One channel of a TrueColor pixel scaled to 8 bits.
std::uint8_t channel(std::uint32_t pixel, std::uint32_t mask) {
  if (!mask) return 0;
  int shift = __builtin_ctz(mask);
  std::uint32_t max = mask >> shift;
  return std::uint8_t(((pixel & mask) >> shift) * 255 / max);
}

}  // namespace

std::optional<picture::Frame> Session::largestWindowPicture() const {
  if (!ready() || checkpoint_) return std::nullopt;
  const Window* best = nullptr;
  for (const auto& [id, w] : tracker_.model().windows)
    if (w.mapped && !tracker_.model().windows.count(w.parent) &&
        (!best || int(w.width) * w.height > int(best->width) * best->height))
      best = &w;
  if (!best) return std::nullopt;
  Upstream side(server_.display, server_.xauthority);
  xcb_connection_t* c = side.xcb();
  std::uint32_t id = translator_.active() ? translator_.idToServer(best->id) : best->id;
  xcb_get_geometry_reply_t* geo = xcb_get_geometry_reply(c, xcb_get_geometry(c, id), nullptr);
  if (!geo) return std::nullopt;
  std::uint16_t width = geo->width, height = geo->height;
  std::uint8_t depth = geo->depth;
  std::free(geo);
  xcb_get_window_attributes_reply_t* attrs =
      xcb_get_window_attributes_reply(c, xcb_get_window_attributes(c, id), nullptr);
  if (!attrs) return std::nullopt;
  const VisualInfo* visual = side.view().visual(attrs->visual);
  std::free(attrs);
  const PixmapFormat* format = side.view().format(depth);
  if (!visual || visual->visualClass != XCB_VISUAL_CLASS_TRUE_COLOR || !format ||
      format->bitsPerPixel != 32 || side.view().imageByteOrder != XCB_IMAGE_ORDER_LSB_FIRST)
    return std::nullopt;  // pictures of other kinds of visuals: not worth a thumbnail
  std::unique_ptr<xcb_get_image_reply_t, decltype(&std::free)> image(
      xcb_get_image_reply(
          c, xcb_get_image(c, XCB_IMAGE_FORMAT_Z_PIXMAP, id, 0, 0, width, height, ~0u), nullptr),
      &std::free);
  if (!image) return std::nullopt;
  const std::uint8_t* data = xcb_get_image_data(image.get());
  if (std::size_t(xcb_get_image_data_length(image.get())) < std::size_t(width) * height * 4)
    return std::nullopt;
  picture::Frame f;
  f.width = width;
  f.height = height;
  f.rgb.resize(std::size_t(width) * height * 3);
  for (std::size_t i = 0; i < std::size_t(width) * height; ++i) {
    std::uint32_t p = std::uint32_t(data[4 * i]) | std::uint32_t(data[4 * i + 1]) << 8 |
                      std::uint32_t(data[4 * i + 2]) << 16 | std::uint32_t(data[4 * i + 3]) << 24;
    f.rgb[3 * i] = channel(p, visual->redMask);
    f.rgb[3 * i + 1] = channel(p, visual->greenMask);
    f.rgb[3 * i + 2] = channel(p, visual->blueMask);
  }
  return f;
}

}  // namespace ckpt::x11
