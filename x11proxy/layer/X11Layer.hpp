// The x11 layer's part in a dump: for a tree rooted at a `ckpt x11 run`
// proxy it stores a thumbnail of the client's largest window (asked of the
// proxy over its control socket before the freeze) and records the tree's
// kind for `ckpt ls`. The proxy's own part (drain, server state, external
// connections) goes through its hook; restore needs nothing of this layer.
#pragma once

#include <memory>

#include "core/layers/Layer.hpp"

namespace ckpt::x11 {

class X11Layer : public Layer {
 public:
  const char* name() const override { return "x11"; }
  std::unique_ptr<LayerRestore> beginRestore(const image::Image&, const RestoreRequest&) override {
    return nullptr;
  }
  std::unique_ptr<LayerDump> beginDump(pid_t root) override;
};

// Registers the layer with core; cli/ calls this once at startup.
void registerWithCore();

}  // namespace ckpt::x11
