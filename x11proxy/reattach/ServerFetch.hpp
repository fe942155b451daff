// What only the server knows about a client's state, fetched over a
// connection of the proxy's own before the client leaves it: the names of
// the atoms the client may hold, and the contents of its pixmaps.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/proto/PictFormats.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proxy/Upstream.hpp"
#include "x11proxy/reattach/KeyboardMap.hpp"

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
  // The clips of GCs and pictures the client clipped with a region, read
  // back as regions (same form).
  std::map<std::uint32_t, std::vector<std::int16_t>> gcClips, pictureClips;
  // The server's RENDER picture formats, in its numbering (none without RENDER).
  std::vector<PictFormat> pictFormats;
  // Its keyboard mapping, when the client has key grabs (KeyboardMap.hpp).
  KeyboardMap keyboard;
  ServerView server;             // the view of the server it was fetched from
  std::uint32_t serverTime = 0;  // its time when fetched (ServerTime.hpp)
  std::uint32_t focus = 0;       // the client's window that had the input focus, or 0
  std::vector<std::string> warnings;
};

// The RENDER picture formats of the server `c` talks to (none without RENDER).
std::vector<PictFormat> queryPictFormats(xcb_connection_t* c);

// `current` maps the client's view onto the server `side` talks to.
FetchedState fetchFromServer(const Upstream& side, const ClientModel& model,
                             const Translator& current);

}  // namespace ckpt::x11
