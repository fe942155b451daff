// The vnc layer's part in a dump: it recognises a VNC desktop in the tree
// (an Xvnc started with -rfbunixpath, as `ckpt vnc run` does), stores a
// thumbnail of its screen in the image, and names the viewers' connections
// to that socket (the gateway's, outside the tree) as external, so the dump
// needs no flag and they come back closed. Restore needs nothing of it: the
// gateway reconnects by itself.
#pragma once

#include <memory>

#include "core/layers/Layer.hpp"

namespace ckpt::vnc {

// Width of the stored thumbnail at most (the aspect is kept).
inline constexpr int kThumbnailWidth = 320;

class VncLayer : public Layer {
 public:
  const char* name() const override { return "vnc"; }
  std::unique_ptr<LayerRestore> beginRestore(const image::Image&, const RestoreRequest&) override {
    return nullptr;
  }
  std::unique_ptr<LayerDump> beginDump(pid_t root) override;
};

// Registers the layer with core; cli/ calls this once at startup.
void registerWithCore();

}  // namespace ckpt::vnc
