// Reads an image directory back: the manifest (checked against manifest.xxh3
// and the format version) and, in verifyImage, every data file against the
// checksums the manifest holds. Restore and inspect call both before they
// trust anything in the image.
#pragma once

#include <functional>
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
//
// Compressed page files: with `deep`, every run is decompressed and checked;
// without, only the compressed checksum of every frame (restore checks each
// run as it decompresses it, before the tree runs). Runs that lie in parent
// images are checked by ImageChain::verifyParentRuns.
// Runs of the areas `checkedLater` picks are left to whoever reads them
// (restore --lazy checks each page as it copies it).
using LaterCheck = std::function<bool(const Process&, const Vma&)>;
void verifyImage(const std::string& dir, const Image& image, bool deep = true,
                 const LaterCheck& checkedLater = {});
// Only the checksums of the image's own page runs, but those of the areas
// `checkedLater` picks (verifyImage checks them after where they lie).
void verifyPageRuns(const std::string& dir, const Image& image, bool deep,
                    const LaterCheck& checkedLater = {});

}  // namespace ckpt::image
