// The per-connection resource model: bookkeeping for creation, change and
// destruction as the requests go by.
#include "x11proxy/model/ClientModel.hpp"

#include "x11proxy/proto/Wire.hpp"

#include <algorithm>
#include <vector>

namespace ckpt::x11 {

void ClientModel::noteAtom(const std::string& name, std::uint32_t atom) {
  if (atom == 0) return;
  atomsByName[name] = atom;
  atomNames[atom] = name;
}

Window* ClientModel::window(std::uint32_t id) {
  auto it = windows.find(id);
  return it == windows.end() ? nullptr : &it->second;
}

void ClientModel::destroySubwindows(std::uint32_t id) {
  std::vector<std::uint32_t> children;
  for (const auto& [wid, w] : windows)
    if (w.parent == id) children.push_back(wid);
  for (auto c : children) destroyWindow(c);
}

void ClientModel::destroyWindow(std::uint32_t id) {
  destroySubwindows(id);
  windows.erase(id);
}

namespace {

// The window's siblings (itself included) from the lowest to the highest.
std::vector<Window*> siblings(std::map<std::uint32_t, Window>& windows, std::uint32_t parent) {
  std::vector<Window*> out;
  for (auto& [id, w] : windows)
    if (w.parent == parent) out.push_back(&w);
  std::sort(out.begin(), out.end(), [](Window* a, Window* b) { return a->order < b->order; });
  return out;
}

// Gives the windows, in their new stacking, the orders they had between them.
void renumber(std::vector<Window*>& stack) {
  std::vector<std::uint64_t> orders;
  for (Window* w : stack) orders.push_back(w->order);
  std::sort(orders.begin(), orders.end());
  for (std::size_t i = 0; i < stack.size(); ++i) stack[i]->order = orders[i];
}

}  // namespace

void ClientModel::restack(std::uint32_t id, std::uint32_t sibling, std::uint8_t mode) {
  Window* w = window(id);
  if (!w || mode > 3) return;
  bool above = mode == 0 || mode == 2;
  auto stack = siblings(windows, w->parent);
  std::erase(stack, w);
  auto at = above ? stack.end() : stack.begin();
  if (Window* s = window(sibling); s && s->parent == w->parent) {
    at = std::find(stack.begin(), stack.end(), s);
    if (above) ++at;
  }
  stack.insert(at, w);
  renumber(stack);
}

void ClientModel::circulate(std::uint32_t parent, std::uint8_t direction) {
  auto stack = siblings(windows, parent);
  std::vector<Window*> mapped;
  for (Window* w : stack)
    if (w->mapped) mapped.push_back(w);
  if (mapped.size() < 2) return;
  Window* w = direction == 0 ? mapped.front() : mapped.back();
  std::erase(stack, w);
  stack.insert(direction == 0 ? stack.end() : stack.begin(), w);
  renumber(stack);
}

void ClientModel::ungrab(std::uint32_t window, std::uint8_t grabOpcode, std::uint8_t detail,
                         std::uint16_t modifiers) {
  Window* w = this->window(window);
  if (!w) return;
  constexpr std::uint8_t kGrabButton = 28;
  std::erase_if(w->grabs, [&](const std::vector<std::uint8_t>& g) {
    if (g[0] != grabOpcode) return false;
    // GrabButton: button at 20, modifiers at 22; GrabKey: modifiers at 8, key at 10.
    std::uint8_t what = g[0] == kGrabButton ? g[20] : g[10];
    std::uint16_t mods = get16(&g[g[0] == kGrabButton ? 22 : 8]);
    return (detail == 0 || detail == what) && (modifiers == 0x8000 || modifiers == mods);
  });
}

namespace {
constexpr std::uint8_t kGrabKey = 33;
constexpr std::size_t kGrabKeyKeycode = 10;
}  // namespace

std::set<std::uint8_t> ClientModel::grabbedKeycodes() const {
  std::set<std::uint8_t> out;
  for (const auto& [id, w] : windows)
    for (const auto& g : w.grabs)
      if (g[0] == kGrabKey && g.size() > kGrabKeyKeycode && g[kGrabKeyKeycode])
        out.insert(g[kGrabKeyKeycode]);
  return out;
}

void ClientModel::remapGrabbedKeycodes(const std::map<std::uint8_t, std::uint8_t>& remap) {
  for (auto& [id, w] : windows)
    for (auto& g : w.grabs)
      if (g[0] == kGrabKey && g.size() > kGrabKeyKeycode)
        if (auto it = remap.find(g[kGrabKeyKeycode]); it != remap.end())
          g[kGrabKeyKeycode] = it->second;
}

void ClientModel::allocColor(std::uint32_t colormap, std::uint32_t pixel, ColorCell cell) {
  auto& cells = colors[colormap];
  auto it = cells.find(pixel);
  if (it != cells.end() && !cell.writable && !it->second.writable)
    ++it->second.refs;  // the same shared colour again
  else
    cells[pixel] = std::move(cell);
}

void ClientModel::freeColor(std::uint32_t colormap, std::uint32_t pixel) {
  auto cells = colors.find(colormap);
  if (cells == colors.end()) return;
  auto it = cells->second.find(pixel);
  if (it == cells->second.end()) return;
  if (it->second.writable || --it->second.refs == 0) cells->second.erase(it);
  if (cells->second.empty()) colors.erase(cells);
}

void ClientModel::storeColor(std::uint32_t colormap, std::uint32_t pixel, std::uint8_t flags,
                             std::uint16_t red, std::uint16_t green, std::uint16_t blue) {
  auto cells = colors.find(colormap);
  if (cells == colors.end()) return;
  auto it = cells->second.find(pixel);
  if (it == cells->second.end() || !it->second.writable) return;
  ColorCell& c = it->second;
  if (flags & 1) c.red = red;
  if (flags & 2) c.green = green;
  if (flags & 4) c.blue = blue;
  c.stored = true;
  c.storedName.clear();
}

void ClientModel::changeProperty(std::uint32_t wid, std::uint32_t atom, std::uint8_t mode,
                                 Property value) {
  Window* w = window(wid);
  auto& props = w ? w->properties : foreignProperties[wid];
  auto it = props.find(atom);
  // Prepend and Append keep the old type and format (the server refuses a mismatch).
  if (mode == 0 || it == props.end()) {
    props[atom] = std::move(value);
  } else if (mode == 1) {
    value.data.insert(value.data.end(), it->second.data.begin(), it->second.data.end());
    it->second.data = std::move(value.data);
  } else {
    it->second.data.insert(it->second.data.end(), value.data.begin(), value.data.end());
  }
}

void ClientModel::deleteProperty(std::uint32_t wid, std::uint32_t atom) {
  if (Window* w = window(wid))
    w->properties.erase(atom);
  else if (auto it = foreignProperties.find(wid); it != foreignProperties.end())
    it->second.erase(atom);
}

}  // namespace ckpt::x11
