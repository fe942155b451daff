// RENDER picture formats (PICTFORMAT ids): each server numbers its own, and
// a client keeps the numbers its first server gave it (QueryPictFormats,
// asked once and cached by libXrender). A reattach matches every format the
// client knows with the new server's like it, by what it describes: type,
// depth, the channels' masks and shifts, and for an indexed format the
// visual whose colormap it uses.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/proto/ServerView.hpp"

namespace ckpt::x11 {

struct PictFormat {
  std::uint32_t id = 0;
  std::uint8_t type = 0, depth = 0;  // type: 0 indexed, 1 direct
  // red shift, red mask, green shift, green mask, blue shift, blue mask, alpha shift, alpha mask
  std::array<std::uint16_t, 8> direct{};
  std::uint32_t colormap = 0;
  std::uint32_t visual = 0;  // an indexed format's visual (from the screens' lists), else 0

  bool sameShape(const PictFormat& o) const {
    return type == o.type && depth == o.depth && direct == o.direct;
  }
};

// The formats of a QueryPictFormats reply (the whole reply, header included).
std::vector<PictFormat> parsePictFormats(std::span<const std::uint8_t> reply);

// Rewrites every id of a QueryPictFormats reply in place: formats (their
// ids, the screens' fallbacks, the visuals' formats) with `format`, the
// formats' colormaps with `colormap` and the visuals with `visual`.
struct PictFormatsRewrite {
  std::function<std::uint32_t(std::uint32_t)> format, colormap, visual;
};
void rewritePictFormats(std::span<std::uint8_t> reply, const PictFormatsRewrite& rewrite);

// The client's formats (on the server whose view `clientView` is) mapped to
// the like formats of another server: client id → server id. A client format
// with no like there is left out. Formats alike in shape pair off in order,
// so that two of one shape stay two.
std::map<std::uint32_t, std::uint32_t> matchPictFormats(const std::vector<PictFormat>& client,
                                                        const ServerView& clientView,
                                                        const std::vector<PictFormat>& server,
                                                        const ServerView& serverView);

// The format a RENDER request names for the object it creates, in a request
// as the model records it: CreatePicture's and CreateGlyphSet's.
std::optional<std::uint32_t> createdWithFormat(std::span<const std::uint8_t> renderRequest);

// The first of the client's pictures and glyph sets made with a format that
// `map` (client format → server format) leaves out, as "no picture format
// like 0x25 (direct, depth 24) that the client's picture 0x400004 uses";
// "" when every one has its like.
std::string missingPictFormat(const std::map<std::uint32_t, RecordedResource>& renderObjects,
                              const std::vector<PictFormat>& clientFormats,
                              const std::map<std::uint32_t, std::uint32_t>& map);

}  // namespace ckpt::x11
