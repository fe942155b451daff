// An image together with the parent images its page runs point into
// (incremental dumps): each parent read and checked to be the very image
// the child was made from, and the page file of any process in any of them.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/image/Model.hpp"
#include "core/image/PageSource.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt::image {

// The checksum recorded in DIR/manifest.xxh3: an image's identity.
uint64_t manifestChecksum(const std::string& dir);

class ImageChain {
 public:
  // Reads every image in image.parents. Throws Error "image DIR needs parent
  // P, which is missing" (or "which has changed since": another manifest
  // checksum) naming what to do.
  ImageChain(const std::string& dir, const Image& image);

  size_t size() const { return dirs_.size(); }                      // the image and its parents
  const std::string& dir(uint32_t k) const { return dirs_.at(k); }  // 0: the image
  const Image& image(uint32_t k) const { return *images_.at(k); }

  // The page file of process `pid` in member k; throws naming the image when
  // it has no such process or page file.
  const PageSource& pages(uint32_t k, pid_t pid);

  // Checks every data run of the image that lies in a parent against that
  // parent's page file (verifyImage does the image's own files).
  // Runs of the areas `checkedLater` picks are left out. Safe to call on
  // one thread while another reads pages through pages().
  void verifyParentRuns(
      bool deep, WorkerPool* pool,
      const std::function<bool(const Process&, const Vma&)>& checkedLater = {}) const;

 private:
  // Process `pid` of member k, with a page file (throws as pages() says).
  const Process& member(uint32_t k, pid_t pid) const;

  std::vector<std::string> dirs_;
  std::vector<const Image*> images_;
  std::vector<std::unique_ptr<Image>> owned_;
  std::map<std::pair<uint32_t, pid_t>, std::unique_ptr<PageSource>> sources_;
};

}  // namespace ckpt::image
