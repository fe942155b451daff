// Collects everything about one frozen process into its image record.
#pragma once

#include "core/dump/MemoryDumper.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/fds/FdKind.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"

namespace ckpt {

MemoryStats dumpProcess(FrozenProcess& fp, image::Process& out, FdDumpContext& fds);

}  // namespace ckpt
