// What an image remembers of a file the tree maps, so that restore can tell
// whether it is still the file the program mapped: restore reads every page
// the image did not store (clean pages of libraries and data files) from it
// again, and a file changed in place would give the program other bytes.
#pragma once

#include <string>

#include "core/image/Model.hpp"

namespace ckpt::image {

// Files up to this size are checksummed whole; larger ones by their first
// and last MiB (with size, mtime and inode, which must then match too).
inline constexpr uint64_t kWholeFingerprintLimit = 16ull << 20;
inline constexpr uint64_t kFingerprintSample = 1ull << 20;

// Reads `path` now. Throws SysError naming the path when it cannot be read.
MappedFile fingerprintFile(const std::string& path);

// "" when `now` (fingerprintFile of the same path today) shows the file the
// image mapped; otherwise what changed, as a phrase ("its content changed",
// "its size was 8192 bytes, now 4096"). Files the tree wrote through a
// shared mapping are its own data: only their identity must be the same.
std::string howFileChanged(const MappedFile& then, const MappedFile& now);

}  // namespace ckpt::image
