// How a session layer (tty/, x11proxy/, vnc/) takes part in a restore without
// core knowing what it does: core calls it at the points where only it can
// act (a session leader exists but has no children yet, the tree is built
// but stopped). cli/ registers the layers at startup.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt {

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

class Layer {
 public:
  virtual ~Layer() = default;
  virtual const char* name() const = 0;
  // Called after the image is verified, before the first process is made;
  // throws to refuse the image. nullptr: nothing to do for this image.
  virtual std::unique_ptr<LayerRestore> beginRestore(const image::Image& img,
                                                     const RestoreRequest& req) = 0;
};

void registerLayer(Layer& layer);
const std::vector<Layer*>& layers();

}  // namespace ckpt
