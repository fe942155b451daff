// A server's keyboard mapping (GetKeyboardMapping), to carry passive key
// grabs across a reattach: a grab names a keycode, and the key that makes a
// keysym may have another keycode on the new server.
#pragma once

#include <xcb/xcb.h>

#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace ckpt::x11 {

struct KeyboardMap {
  std::uint8_t minKeycode = 0, perKeycode = 0;
  std::vector<std::uint32_t> keysyms;  // perKeycode per keycode, from minKeycode on

  // The keysym the key makes without modifiers (its first one), or 0.
  std::uint32_t keysymOf(std::uint8_t keycode) const;
  // The lowest keycode that makes `keysym` without modifiers, or 0.
  std::uint8_t keycodeOf(std::uint32_t keysym) const;
};

// The mapping of the server `c` talks to, over keycodes min..max.
KeyboardMap fetchKeyboardMap(xcb_connection_t* c, std::uint8_t minKeycode, std::uint8_t maxKeycode);

// For the keycodes `grabbed` (on the server `from` describes): the keycode
// on `to` that makes the same keysym, where it differs. A key whose keysym
// `to` lacks, or that makes none, keeps its keycode and is named in `lost`.
std::map<std::uint8_t, std::uint8_t> keycodesToRemap(const KeyboardMap& from, const KeyboardMap& to,
                                                     const std::set<std::uint8_t>& grabbed,
                                                     std::vector<std::uint8_t>& lost);

}  // namespace ckpt::x11
