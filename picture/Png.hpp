// PNG files of frames, through libpng: snapshots, thumbnails, and reading
// them back (inspect's checks and the tests).
#pragma once

#include <string>

#include "picture/Frame.hpp"

namespace ckpt::picture {

// The PNG bytes of a frame (8-bit RGB).
std::string encodePng(const Frame& frame);
// A frame from PNG bytes; throws Error (naming `what`) when they are not a PNG.
Frame decodePng(const std::string& bytes, const std::string& what);
// Writes encodePng(frame) to a new file at `path` (mode 0644, replaced if it exists).
void writePngFile(const std::string& path, const Frame& frame);

}  // namespace ckpt::picture
