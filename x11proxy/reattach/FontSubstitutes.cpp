// Substitutes for missing fonts (see FontSubstitutes.hpp).
#include "x11proxy/reattach/FontSubstitutes.hpp"

#include <cstdlib>
#include <memory>
#include <set>

namespace ckpt::x11 {
namespace {

// The 14 fields of an XLFD name ("-foundry-family-...-encoding"); empty
// for other names (aliases such as "fixed" or "9x15").
std::vector<std::string> xlfdFields(const std::string& name) {
  std::vector<std::string> fields;
  if (name.empty() || name[0] != '-') return fields;
  std::size_t at = 1;
  for (;;) {
    std::size_t dash = name.find('-', at);
    fields.push_back(name.substr(at, dash == std::string::npos ? dash : dash - at));
    if (dash == std::string::npos) break;
    at = dash + 1;
  }
  if (fields.size() != 14) fields.clear();
  return fields;
}

// Whether the server has a font by this name (a pattern opens its first match).
bool has(xcb_connection_t* c, const std::string& name) {
  std::unique_ptr<xcb_list_fonts_reply_t, decltype(&std::free)> r(
      xcb_list_fonts_reply(c, xcb_list_fonts(c, 1, std::uint16_t(name.size()), name.c_str()),
                           nullptr),
      &std::free);
  return r && r->names_len > 0;
}

// A font the server has that matches `pattern` ("" when none): one of its
// own sizes, never an instance of a scalable font (average width 0 in its
// name), which servers list but may refuse to open.
std::string firstMatch(xcb_connection_t* c, const std::string& pattern) {
  std::unique_ptr<xcb_list_fonts_reply_t, decltype(&std::free)> r(
      xcb_list_fonts_reply(c, xcb_list_fonts(c, 64, std::uint16_t(pattern.size()), pattern.c_str()),
                           nullptr),
      &std::free);
  if (!r || r->names_len == 0) return "";
  for (xcb_str_iterator_t it = xcb_list_fonts_names_iterator(r.get()); it.rem; xcb_str_next(&it)) {
    std::string name(xcb_str_name(it.data), std::size_t(xcb_str_name_length(it.data)));
    auto fields = xlfdFields(name);
    if (fields.empty() || fields[11] != "0") return name;
  }
  return "";  // only scalable ones: a wider pattern finds a real size
}

}  // namespace

std::vector<std::string> widerFontPatterns(const std::string& name) {
  std::vector<std::string> out;
  std::vector<std::string> fields = xlfdFields(name);
  if (!fields.empty()) {
    // Fields by index: 0 foundry, 1 family, 2 weight, 3 slant, 4 setwidth, 5 add style,
    // 6 pixel size, 7 point size, 8-9 resolution, 10 spacing, 11 average width,
    // 12-13 charset. Widened in this order; the pixel size and charset stay longest.
    for (std::size_t field : {0, 11, 7, 8, 9, 5, 4, 3, 2, 10, 1, 12, 13, 6}) {
      fields.at(field).assign(1, '*');
      std::string pattern;
      for (const auto& f : fields) {
        pattern.push_back('-');
        pattern.append(f);
      }
      out.push_back(std::move(pattern));
    }
  }
  out.push_back("fixed");
  return out;
}

std::map<std::string, std::string> fontSubstitutes(xcb_connection_t* c, const ClientModel& model,
                                                   std::vector<std::string>& warnings) {
  std::set<std::string> names;
  for (const auto& [id, name] : model.fonts) names.insert(name);
  for (const auto& [id, cursor] : model.cursors)
    for (const auto& [fid, name] : cursor.fonts) names.insert(name);
  std::map<std::string, std::string> out;
  for (const auto& name : names) {
    if (has(c, name)) continue;
    std::string substitute;
    for (const auto& pattern : widerFontPatterns(name))
      if (!(substitute = firstMatch(c, pattern)).empty()) break;
    if (substitute.empty()) continue;  // not even "fixed": the OpenFont fails, with a warning
    warnings.push_back("font " + name + " is missing there: " + substitute + " stands in");
    out[name] = substitute;
  }
  return out;
}

}  // namespace ckpt::x11
