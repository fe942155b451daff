// Reads an image directory back: the manifest (checked against manifest.xxh3
// and the format version) and, in verifyImage, every data file against the
// checksums the manifest holds. Restore and inspect call both before they
// trust anything in the image.
#pragma once

#include <string>

#include "core/image/Model.hpp"

namespace ckpt::image {

// Reads and checks manifest.json. Throws Error with one line naming the image
// and what is wrong ("image /x: manifest.json: checksum mismatch: the image is
// corrupt", "image /x has format version 2, this ckpt reads version 1").
Image readImage(const std::string& dir);

// Checks that every file the manifest names is there and intact: each data
// page run lies inside its mapping and inside its page file and matches its
// XXH3; pipe data and deleted files' contents match theirs; fds refer to open
// files and open files to pipes that the image has. Throws Error naming the
// file ("image /x: pages-1234.img: run at 0x7f0000000000 (16 pages) checksum
// mismatch: the image is corrupt").
void verifyImage(const std::string& dir, const Image& image);

}  // namespace ckpt::image
