// Passive key grabs across servers whose keys have other codes: a grabbed
// keycode goes to the key that makes the same keysym on the new server.
#include <gtest/gtest.h>

#include "x11proxy/model/ClientModel.hpp"
#include "x11proxy/reattach/KeyboardMap.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint32_t kF5 = 0xffc2, kF6 = 0xffc3, kA = 0x61;

// Keycodes 8.., two keysyms each.
KeyboardMap map(std::initializer_list<std::uint32_t> firstKeysyms) {
  KeyboardMap m{8, 2, {}};
  for (auto k : firstKeysyms) m.keysyms.insert(m.keysyms.end(), {k, 0});
  return m;
}

TEST(X11KeyboardMap, KeysymsAndKeycodes) {
  KeyboardMap m = map({0, kA, kF5});
  m.keysyms[0 * 2 + 1] = kF6;  // keycode 8 makes F6 only in its second column
  EXPECT_EQ(m.keysymOf(8), kF6);
  EXPECT_EQ(m.keysymOf(10), kF5);
  EXPECT_EQ(m.keysymOf(7), 0u);
  EXPECT_EQ(m.keysymOf(11), 0u);
  EXPECT_EQ(m.keycodeOf(kF5), 10);
  EXPECT_EQ(m.keycodeOf(0x62), 0);
}

TEST(X11KeyboardMap, GrabbedKeycodesFollowTheirKeysyms) {
  KeyboardMap from = map({kA, kF5, kF6, 0});
  KeyboardMap to = map({kA, kF6, kF5, 0x62});
  std::vector<std::uint8_t> lost;
  // 8 (a): same code there; 9 (F5) → 10; 10 (F6) → 9; 11 makes no keysym: left alone.
  auto remap = keycodesToRemap(from, to, {8, 9, 10, 11}, lost);
  EXPECT_EQ(remap, (std::map<std::uint8_t, std::uint8_t>{{9, 10}, {10, 9}}));
  EXPECT_TRUE(lost.empty());
  // A keysym the new server lacks: the grab keeps its code, and it is said.
  KeyboardMap without = map({kA, 0, kF6, 0});
  remap = keycodesToRemap(from, without, {9}, lost);
  EXPECT_TRUE(remap.empty());
  EXPECT_EQ(lost, std::vector<std::uint8_t>{9});
}

TEST(X11KeyboardMap, TheModelsGrabsTakeTheNewKeycodes) {
  ClientModel m;
  Window w;
  w.id = 0x200001;
  // GrabKey: owner events, window, modifiers, key 9, modes; GrabButton left alone.
  std::vector<std::uint8_t> grabKey{33, 1, 4, 0, 1, 0, 0x20, 0, 0, 0x80, 9, 1, 1, 0, 0, 0};
  std::vector<std::uint8_t> grabButton(24, 0);
  grabButton[0] = 28;
  grabButton[10] = 9;
  w.grabs = {grabKey, grabButton};
  grabKey[10] = 0;  // AnyKey: no keycode to carry
  w.grabs.push_back(grabKey);
  m.windows[w.id] = w;
  EXPECT_EQ(m.grabbedKeycodes(), std::set<std::uint8_t>{9});
  m.remapGrabbedKeycodes({{9, 10}});
  const auto& grabs = m.windows.at(w.id).grabs;
  EXPECT_EQ(grabs[0][10], 10);
  EXPECT_EQ(grabs[1][10], 9);
  EXPECT_EQ(grabs[2][10], 0);
}

}  // namespace
}  // namespace ckpt::x11
