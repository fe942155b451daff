// Puts back the address space of one process: everything of the stub goes,
// the vDSO moves to its saved place, every saved mapping is mapped again and
// filled from the page file by the process itself (injected preadv: one copy),
// then protections and the mm fields (PR_SET_MM_MAP) are set.
#pragma once

#include <string>

#include "core/image/ImageChain.hpp"
#include "core/image/Model.hpp"
#include "core/mem/SharedObjects.hpp"
#include "core/restore/LazyPages.hpp"
#include "core/restore/RestoredProcess.hpp"
#include "core/util/PhaseTimes.hpp"
#include "core/util/Progress.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt {

// Pages come from the image's page files or its parents' (`chain`);
// compressed ones are decompressed on `pool`. `progress` (may be null)
// advances by the page bytes filled. With `lazy` (restore --lazy), the
// areas it serves are registered with it instead of filled. `times` (may be
// null) gets a mark for each step.
void restoreMemory(RestoredProcess& p, const ScratchLayout& scratch, const image::Image& img,
                   image::ImageChain& chain, WorkerPool& pool, const SharedObjects& objects,
                   Progress* progress, LazyPages* lazy = nullptr, PhaseTimes* times = nullptr);

// A range of `size` bytes free in every process of the image and in ckpt's
// own address space (which every stub starts as a copy of).
ScratchLayout chooseScratch(const image::Image& img);

}  // namespace ckpt
