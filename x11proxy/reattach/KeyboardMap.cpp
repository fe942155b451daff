// Keyboard mappings and the keycodes of key grabs (see KeyboardMap.hpp).
#include "x11proxy/reattach/KeyboardMap.hpp"

#include <cstdlib>
#include <memory>

namespace ckpt::x11 {

std::uint32_t KeyboardMap::keysymOf(std::uint8_t keycode) const {
  if (keycode < minKeycode || !perKeycode) return 0;
  std::size_t row = std::size_t(keycode - minKeycode) * perKeycode;
  if (row + perKeycode > keysyms.size()) return 0;
  for (std::size_t i = 0; i < perKeycode; ++i)
    if (keysyms[row + i]) return keysyms[row + i];
  return 0;
}

std::uint8_t KeyboardMap::keycodeOf(std::uint32_t keysym) const {
  if (!perKeycode || !keysym) return 0;
  for (std::size_t row = 0; (row + 1) * perKeycode <= keysyms.size(); ++row) {
    auto keycode = std::uint8_t(minKeycode + row);
    if (keysymOf(keycode) == keysym) return keycode;
  }
  return 0;
}

KeyboardMap fetchKeyboardMap(xcb_connection_t* c, std::uint8_t minKeycode,
                             std::uint8_t maxKeycode) {
  KeyboardMap map;
  if (maxKeycode < minKeycode) return map;
  std::unique_ptr<xcb_get_keyboard_mapping_reply_t, decltype(&std::free)> r(
      xcb_get_keyboard_mapping_reply(
          c, xcb_get_keyboard_mapping(c, minKeycode, std::uint8_t(maxKeycode - minKeycode + 1)),
          nullptr),
      &std::free);
  if (!r) return map;
  map.minKeycode = minKeycode;
  map.perKeycode = r->keysyms_per_keycode;
  const xcb_keysym_t* syms = xcb_get_keyboard_mapping_keysyms(r.get());
  map.keysyms.assign(syms, syms + xcb_get_keyboard_mapping_keysyms_length(r.get()));
  return map;
}

std::map<std::uint8_t, std::uint8_t> keycodesToRemap(const KeyboardMap& from, const KeyboardMap& to,
                                                     const std::set<std::uint8_t>& grabbed,
                                                     std::vector<std::uint8_t>& lost) {
  std::map<std::uint8_t, std::uint8_t> out;
  for (std::uint8_t keycode : grabbed) {
    std::uint32_t keysym = from.keysymOf(keycode);
    if (!keysym) continue;  // a key without a symbol: only its code means anything
    if (to.keysymOf(keycode) == keysym) continue;
    if (std::uint8_t there = to.keycodeOf(keysym))
      out[keycode] = there;
    else
      lost.push_back(keycode);
  }
  return out;
}

}  // namespace ckpt::x11
