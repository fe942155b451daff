// The pages of the parent image of an incremental dump (`--parent`), by
// process and address, each with its XXH3: a page whose content hashes the
// same as the parent's page at that address is stored as a pointer to it.
// The comparison is by content, so it is right whatever the process did
// (no dirty-page tracking needed, which this kernel lacks); two different
// pages with one 64-bit hash would have to collide (odds 2^-64 per page).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/image/Model.hpp"

namespace ckpt {

class ParentPages {
 public:
  struct Page {
    uint64_t addr;
    uint64_t hash;
    uint32_t image;   // in the child's numbering: 1 = the parent itself
    uint64_t offset;  // uncompressed offset in that image's page file of the pid
  };

  // Reads the image at `dir` and the hash of every page it holds: from its
  // page hashes files, or (an image dumped without them) from its pages.
  explicit ParentPages(const std::string& dir);

  // The child's Image::parents: the parent first, then its own parents.
  const std::vector<image::ParentImage>& chain() const { return chain_; }
  // The parent's data pages of `pid`, by address; null when it had no such process.
  const std::vector<Page>* process(pid_t pid) const;

 private:
  std::vector<image::ParentImage> chain_;
  std::map<pid_t, std::vector<Page>> pages_;
};

// Finds pages in one process's list, expecting addresses mostly in order.
class ParentLookup {
 public:
  explicit ParentLookup(const std::vector<ParentPages::Page>* pages) : pages_(pages) {}
  const ParentPages::Page* find(uint64_t addr);

 private:
  const std::vector<ParentPages::Page>* pages_;
  size_t next_ = 0;
};

}  // namespace ckpt
