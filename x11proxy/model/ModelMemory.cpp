// The model's memory (see ModelMemory.hpp).
#include "x11proxy/model/ModelMemory.hpp"

#include <string>
#include <vector>

namespace ckpt::x11 {
namespace {

// A red-black tree node's links and colour, plus malloc's own header.
constexpr std::size_t kNode = 32 + 16;

template <typename K, typename V>
std::size_t nodes(const std::map<K, V>& m) {
  return m.size() * (kNode + sizeof(typename std::map<K, V>::value_type));
}

std::size_t heap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;
}
std::size_t heap(const std::vector<std::uint8_t>& v) {
  return v.capacity();
}

std::size_t heap(const std::vector<std::vector<std::uint8_t>>& requests) {
  std::size_t n = requests.capacity() * sizeof(std::vector<std::uint8_t>);
  for (const auto& r : requests) n += heap(r);
  return n;
}

std::size_t heap(const std::map<std::uint32_t, Property>& props) {
  std::size_t n = nodes(props);
  for (const auto& [atom, p] : props) n += heap(p.data);
  return n;
}

std::size_t heap(const std::map<std::uint32_t, RecordedResource>& recorded) {
  std::size_t n = nodes(recorded);
  for (const auto& [id, r] : recorded) {
    n += heap(r.requests) + nodes(r.fonts);
    for (const auto& [fid, name] : r.fonts) n += heap(name);
  }
  return n;
}

}  // namespace

std::size_t modelMemory(const ClientModel& m) {
  std::size_t n = sizeof m + nodes(m.windows);
  for (const auto& [id, w] : m.windows)
    n += nodes(w.attributes) + heap(w.properties) + heap(w.shapeRequests);
  n += nodes(m.pixmaps) + nodes(m.gcs);
  for (const auto& [id, gc] : m.gcs)
    n += nodes(gc.values) + heap(gc.clipRectangles) + heap(gc.dashes);
  n += nodes(m.fonts);
  for (const auto& [id, name] : m.fonts) n += heap(name);
  n += heap(m.cursors) + heap(m.colormaps) + heap(m.renderObjects);
  n += nodes(m.foreignAttributes);
  for (const auto& [id, values] : m.foreignAttributes) n += nodes(values);
  n += nodes(m.foreignProperties);
  for (const auto& [id, props] : m.foreignProperties) n += heap(props);
  n += nodes(m.versionRequests);
  for (const auto& [major, r] : m.versionRequests) n += heap(r);
  n += nodes(m.regions) + nodes(m.pictureClips) + nodes(m.selections) + nodes(m.colors);
  for (const auto& [cmap, cells] : m.colors) {
    n += nodes(cells);
    for (const auto& [pixel, cell] : cells) n += heap(cell.storedName);
  }
  for (const auto& [id, w] : m.windows) n += nodes(w.regionShapes) + heap(w.grabs);
  n += nodes(m.atomsByName) + nodes(m.atomNames);
  for (const auto& [name, atom] : m.atomsByName) n += 2 * heap(name);  // both maps hold it
  return n;
}

}  // namespace ckpt::x11
