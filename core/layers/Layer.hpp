// How a session layer (tty/, x11proxy/, vnc/) takes part in a dump and a
// restore without core knowing what it does: core calls it at the points
// where only it can act (the tree still runs before the freeze; a session
// leader exists but has no children yet, the tree is built but stopped).
// cli/ registers the layers at startup.
#pragma once

#include <sys/types.h>

#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt {

namespace image {
class ImageWriter;
}

struct RestoreRequest;
struct RestoredProcess;
struct ScratchLayout;

// One restore, as a layer sees it. Destroyed when the restore ends (done or
// failed), so it owns whatever it made for the tree.
class LayerRestore {
 public:
  virtual ~LayerRestore() = default;
  // `p` has just become a session leader (setsid), before any child of it
  // exists: what children must inherit (a controlling terminal) goes here.
  virtual void sessionLeader(RestoredProcess& p) { (void)p; }
  // Every process exists, sessions and groups are set, nothing runs yet.
  virtual void treeBuilt(std::deque<RestoredProcess>& procs, const ScratchLayout& scratch) {
    (void)procs;
    (void)scratch;
  }
  // Every process runs (detached), before programs' hooks hear `restarted`.
  virtual void treeRunning(const image::Image& img, pid_t root) {
    (void)img;
    (void)root;
  }
};

// One dump, as a layer sees it. Destroyed when the dump ends (done or
// failed), so it owns whatever it opened to look at the tree.
class LayerDump {
 public:
  virtual ~LayerDump() = default;
  // The tree still runs, before programs' hooks hear pre-dump: the last
  // moment to look at it from outside (a picture of its screen).
  virtual void beforeFreeze() {}
  // Every process of the tree is frozen: fds that the layer knows to be
  // connections to outside the tree, to come back closed by their peer
  // (as `--external PID:FD` would).
  virtual std::vector<std::pair<pid_t, int>> externals(const std::vector<pid_t>& frozen) {
    (void)frozen;
    return {};
  }
  // Everything of the tree is saved, before the manifest is written: the
  // layer's own state (img.layers) and files (img.attachments).
  virtual void beforeCommit(image::Image& img, image::ImageWriter& writer) {
    (void)img;
    (void)writer;
  }
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* name() const = 0;
  // Called after the image is verified, before the first process is made;
  // throws to refuse the image. nullptr: nothing to do for this image.
  virtual std::unique_ptr<LayerRestore> beginRestore(const image::Image& img,
                                                     const RestoreRequest& req) = 0;
  // Called before anything of the tree is touched; nullptr: this layer has
  // nothing to do for this tree. Throws to refuse the dump.
  virtual std::unique_ptr<LayerDump> beginDump(pid_t root) {
    (void)root;
    return nullptr;
  }
};

void registerLayer(Layer& layer);
const std::vector<Layer*>& layers();

}  // namespace ckpt
