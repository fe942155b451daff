// Collects everything about one frozen process into its image record.
#pragma once

#include "core/dump/MemoryDumper.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/fds/FdKind.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"

namespace ckpt {

// Everything but memory: checked for every process before any page is
// written, so an object ckpt cannot save fails the dump early.
void dumpProcessState(FrozenProcess& fp, image::Process& out, FdDumpContext& fds);
// The mappings and shared memory objects (while frozen); the private pages
// follow with dumpPrivatePages().
void describeProcessMemory(const FrozenProcess& fp, image::Process& out, image::Image& img,
                           image::ImageWriter& writer);

}  // namespace ckpt
