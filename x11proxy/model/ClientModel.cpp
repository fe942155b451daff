// The per-connection resource model: bookkeeping for creation, change and
// destruction as the requests go by.
#include "x11proxy/model/ClientModel.hpp"

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
