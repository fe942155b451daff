// Pixmaps and RENDER pictures the client freed while something it still
// uses was made from them: a window's background, a GC's tile, a cursor's
// image. The X server keeps such a pixmap alive under the hood, but a
// reattach to a new server needs it by id, with its pixels. So the proxy
// turns the client's free into a NoOperation (same length: sequence numbers
// do not move) and frees the id itself once nothing refers to it any more.
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <vector>

#include "x11proxy/model/ClientModel.hpp"

namespace ckpt::x11 {

// Does anything the client still has refer to this pixmap / RENDER picture?
bool pixmapInUse(const ClientModel& m, std::uint32_t pixmap);
bool pictureInUse(const ClientModel& m, std::uint32_t picture);

class HeldResources {
 public:
  struct Release {
    bool picture = false;  // a RENDER picture, else a pixmap
    std::uint32_t id = 0;
  };

  // `request` is one the client sent; when it frees a pixmap (or, with
  // RENDER at `renderMajor`, a picture) that is still in use, it becomes a
  // NoOperation in place and the id is held. True when it did.
  bool holdFree(std::span<std::uint8_t> request, const ClientModel& m, std::uint8_t renderMajor);
  // The held ids nothing refers to any more (pictures before the pixmaps
  // under them), no longer held: the proxy frees them on the server, and the
  // model forgets them.
  std::vector<Release> releasable(const ClientModel& m);
  bool empty() const { return pixmaps_.empty() && pictures_.empty(); }
  std::size_t size() const { return pixmaps_.size() + pictures_.size(); }

 private:
  std::set<std::uint32_t> pixmaps_, pictures_;
};

}  // namespace ckpt::x11
