// What only the server knows about a client's state, fetched over a
// connection of the proxy's own before the client leaves it: the names of
// the atoms the client may hold, and the contents of its pixmaps.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proxy/Upstream.hpp"

namespace ckpt::x11 {

struct FetchedState {
  std::map<std::uint32_t, std::string> atomNames;  // client value → name
  // Client pixmap id → its pixels (ZPixmap, in `format` of the server fetched from).
  std::map<std::uint32_t, std::vector<std::uint8_t>> pixmapImages;
  // The shapes of windows the client shaped, as the server holds them now
  // (a mask pixmap the client made them from is usually freed at once):
  // client window → (kind, ordering, rectangles as x, y, width, height).
  struct Shape {
    std::uint8_t kind = 0, ordering = 0;
    std::vector<std::int16_t> rects;  // x, y, w, h per rectangle (w, h as unsigned)
  };
  std::map<std::uint32_t, std::vector<Shape>> shapes;
  // The client's XFIXES regions as the server holds them: id → rectangles
  // (x, y, width, height each).
  std::map<std::uint32_t, std::vector<std::int16_t>> regions;
  ServerView server;             // the view of the server it was fetched from
  std::uint32_t serverTime = 0;  // its time when fetched (ServerTime.hpp)
  std::uint32_t focus = 0;       // the client's window that had the input focus, or 0
  std::vector<std::string> warnings;
};

// `current` maps the client's view onto the server `side` talks to.
FetchedState fetchFromServer(const Upstream& side, const ClientModel& model,
                             const Translator& current);

}  // namespace ckpt::x11
