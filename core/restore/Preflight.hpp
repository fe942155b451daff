// What restore checks against this machine before it starts anything, from
// the manifest alone: the kernel's vDSO, the credentials this user may give
// back, every mapped file still being the one the program mapped, and every
// open file still there. `ckpt check --image` runs the same checks where an
// image is about to go (ckpt migrate, before the source is killed).
#pragma once

#include "core/image/Model.hpp"

namespace ckpt {

// Throws Error with one line naming what does not fit (and the pid, path or
// mapping) and what the user can do.
void checkImageFitsHere(const image::Image& img);
// The same in two parts: what is quick (identities, sizes), and the mapped
// files' content, which takes reading them (restore does that beside the
// injected calls, BackgroundCheck.hpp).
void checkImageFitsHereQuickly(const image::Image& img);
void checkMappedFiles(const image::Image& img);

}  // namespace ckpt
