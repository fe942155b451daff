// Collects everything about one frozen process into its image record.
#pragma once

#include <functional>
#include <optional>

#include "core/dump/MemoryDumper.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/fds/FdKind.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Model.hpp"
#include "core/mem/VmFlagsCarry.hpp"
#include "core/ptrace/RollbackFrame.hpp"

namespace ckpt {

// Everything but memory: checked for every process before any page is
// written, so an object ckpt cannot save fails the dump early. `gadgets`
// carries where injection's code was found from one process to the next.
void dumpProcessState(FrozenProcess& fp, image::Process& out, FdDumpContext& fds,
                      GadgetCache& gadgets);
// The mappings and shared memory objects (while frozen); the private pages
// follow with dumpPrivatePages(). `knownFlags`, when given, may supply the
// VmFlags of the mappings so that smaps need not be read frozen
// (core/mem/VmFlagsCarry.hpp).
using VmFlagsSource =
    std::function<std::optional<KnownMappings>(pid_t, const std::vector<proc::MapsEntry>&)>;
void describeProcessMemory(const FrozenProcess& fp, image::Process& out, image::Image& img,
                           image::ImageWriter& writer, const VmFlagsSource& knownFlags = {});

}  // namespace ckpt
