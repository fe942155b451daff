// Allocating a client's colour cells on a new server (see ColorCells.hpp).
#include "x11proxy/reattach/ColorCells.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <memory>

namespace ckpt::x11 {
namespace {

constexpr std::uint8_t kTrueColor = 4;

struct FreeReply {
  void operator()(void* p) const { std::free(p); }
};
template <typename T>
using Reply = std::unique_ptr<T, FreeReply>;

}  // namespace

bool allocatesPixels(const ServerView& v) {
  const VisualInfo* root = v.visual(v.rootVisual);
  return root && root->visualClass != kTrueColor;
}

std::map<std::uint32_t, std::uint32_t> allocateColorsAgain(xcb_connection_t* c,
                                                           const ClientModel& m,
                                                           const ServerView& client,
                                                           const ServerView& server,
                                                           std::vector<std::string>& warnings) {
  std::map<std::uint32_t, std::uint32_t> out;
  out[client.blackPixel] = server.blackPixel;
  out.emplace(client.whitePixel, server.whitePixel);
  auto cells = m.colors.find(client.defaultColormap);
  if (cells == m.colors.end()) return out;
  xcb_colormap_t cmap = server.defaultColormap;

  // Shared colours, pipelined: one AllocColor per allocation the client holds.
  std::vector<std::pair<std::uint32_t, xcb_alloc_color_cookie_t>> shared;
  std::vector<std::uint32_t> writable;
  for (const auto& [pixel, cell] : cells->second) {
    if (cell.writable) {
      writable.push_back(pixel);
      continue;
    }
    for (std::uint32_t i = 0; i < cell.refs; ++i)
      shared.emplace_back(pixel, xcb_alloc_color(c, cmap, cell.red, cell.green, cell.blue));
  }
  xcb_alloc_color_cells_cookie_t cellsCookie{};
  if (!writable.empty())
    cellsCookie = xcb_alloc_color_cells(c, 0, cmap, std::uint16_t(writable.size()), 0);
  for (auto& [pixel, cookie] : shared) {
    Reply<xcb_alloc_color_reply_t> r(xcb_alloc_color_reply(c, cookie, nullptr));
    if (r)
      out[pixel] = r->pixel;
    else if (!out.count(pixel))
      warnings.push_back(
          fmt::format("colour pixel {} could not be allocated on the new server: "
                      "it shows another colour there",
                      pixel));
  }
  if (writable.empty()) return out;
  Reply<xcb_alloc_color_cells_reply_t> r(xcb_alloc_color_cells_reply(c, cellsCookie, nullptr));
  if (!r || std::size_t(xcb_alloc_color_cells_pixels_length(r.get())) < writable.size()) {
    warnings.push_back(
        fmt::format("{} writable colour cells could not be allocated on the new "
                    "server: they show other colours there",
                    writable.size()));
    return out;
  }
  const std::uint32_t* given = xcb_alloc_color_cells_pixels(r.get());
  std::vector<xcb_coloritem_t> items;
  for (std::size_t i = 0; i < writable.size(); ++i) {
    out[writable[i]] = given[i];
    const ColorCell& cell = cells->second.at(writable[i]);
    if (!cell.stored) continue;
    if (!cell.storedName.empty())
      xcb_store_named_color(c, cell.storedFlags, cmap, given[i],
                            std::uint16_t(cell.storedName.size()), cell.storedName.c_str());
    else
      items.push_back({given[i], cell.red, cell.green, cell.blue, 7, 0});
  }
  if (!items.empty()) xcb_store_colors(c, cmap, std::uint32_t(items.size()), items.data());
  return out;
}

}  // namespace ckpt::x11
