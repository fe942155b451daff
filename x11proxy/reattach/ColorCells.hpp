// The colour cells a client holds in the default colormap, allocated again
// on a new server whose default visual hands out pixel values
// (PseudoColor, GrayScale, DirectColor, the static classes): there the same
// colours get other pixels, which the Translator then maps.
#pragma once

#include <xcb/xcb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/proto/ServerView.hpp"

namespace ckpt::x11 {

// Does the server's default visual give pixel values out per allocation
// (anything but TrueColor, whose pixels are the colour itself)?
bool allocatesPixels(const ServerView& v);

// Allocates the cells the client holds in its default colormap again, on
// the server `c` talks to, on that connection (they stay the connection's):
// shared colours by their RGB (as often as the client has them), writable
// cells as many, with the colours stored in them. Returns client pixel →
// new pixel, the default black and white pixels included. A cell the
// server cannot give keeps its pixel value, with a warning.
std::map<std::uint32_t, std::uint32_t> allocateColorsAgain(xcb_connection_t* c,
                                                           const ClientModel& m,
                                                           const ServerView& client,
                                                           const ServerView& server,
                                                           std::vector<std::string>& warnings);

}  // namespace ckpt::x11
