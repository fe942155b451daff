// Fonts the client opened that the new server lacks: each gets the nearest
// font that server has, found by widening its XLFD name field by field
// (foundry first, then family, weight, slant...; size and charset last),
// and "fixed" when nothing else matches. Text then draws in a font of about
// the same size instead of the replay failing.
#pragma once

#include <xcb/xcb.h>

#include <map>
#include <string>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"

namespace ckpt::x11 {

// Font name → the name to open instead, for every font of the model (opened,
// or named by a glyph cursor) that the server at `c` does not have.
// `warnings` gets one line for each.
std::map<std::string, std::string> fontSubstitutes(xcb_connection_t* c, const ClientModel& model,
                                                   std::vector<std::string>& warnings);

// The patterns tried for `name`, nearest first (exposed for the tests).
std::vector<std::string> widerFontPatterns(const std::string& name);

}  // namespace ckpt::x11
