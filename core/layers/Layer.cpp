#include "core/layers/Layer.hpp"

#include <algorithm>

namespace ckpt {

static std::vector<Layer*>& layerList() {
  static std::vector<Layer*> list;
  return list;
}

void registerLayer(Layer& layer) {
  auto& list = layerList();
  if (std::find(list.begin(), list.end(), &layer) == list.end()) list.push_back(&layer);
}

const std::vector<Layer*>& layers() {
  return layerList();
}

}  // namespace ckpt
