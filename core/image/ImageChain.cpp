// ImageChain: parents are found by the absolute path recorded at dump and
// accepted only with the manifest checksum recorded then, so a parent that
// was dumped again under the same name is never taken for the old one.
#include "core/image/ImageChain.hpp"

#include <fmt/format.h>

#include <sys/stat.h>
#include <cstdio>

#include "core/image/Checksum.hpp"
#include "core/image/ImageReader.hpp"
#include "core/util/Error.hpp"

namespace ckpt::image {

uint64_t manifestChecksum(const std::string& dir) {
  ImageFile file(dir, "manifest.xxh3");
  char buf[17] = {};
  if (file.readAt(buf, 16, 0) != 16) file.fail("malformed");
  uint64_t h = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = buf[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) file.fail("malformed");
    h = (h << 4) | uint64_t(v);
  }
  return h;
}

ImageChain::ImageChain(const std::string& dir, const Image& image) {
  dirs_.push_back(dir);
  images_.push_back(&image);
  for (const ParentImage& parent : image.parents) {
    struct stat st;
    if (::stat(parent.path.c_str(), &st) != 0)
      throw Error(fmt::format(
          "image {} needs parent {}, which is missing; put it back at that path (images made "
          "with --parent keep only the pages that changed)",
          dir, parent.path));
    uint64_t have = 0;
    try {
      have = manifestChecksum(parent.path);
    } catch (const Error& e) {
      throw Error(fmt::format("image {} needs parent {}, which cannot be read: {}", dir,
                              parent.path, e.what()));
    }
    if (have != parent.manifest_xxh3)
      throw Error(fmt::format(
          "image {} needs parent {}, which has changed since (manifest checksum {}, expected "
          "{}): it is another image now; the parent this image was made from is gone",
          dir, parent.path, xxh3Hex(have), xxh3Hex(parent.manifest_xxh3)));
    auto img = std::make_unique<Image>(readImage(parent.path));
    dirs_.push_back(parent.path);
    images_.push_back(img.get());
    owned_.push_back(std::move(img));
  }
}

const Process& ImageChain::member(uint32_t k, pid_t pid) const {
  if (k >= dirs_.size())
    throw Error(
        fmt::format("image {}: pid {} has pages in parent {}, but the image names {} "
                    "parents: the image is corrupt",
                    dirs_[0], pid, k, dirs_.size() - 1));
  const Image& img = *images_[k];
  for (const Process& p : img.processes)
    if (p.pid == pid) {
      if (p.pages_file.empty())
        throw Error(
            fmt::format("image {}: pid {} has no page file, but image {} takes pages "
                        "from it: the image is corrupt",
                        dirs_[k], pid, dirs_[0]));
      return p;
    }
  throw Error(
      fmt::format("image {} takes pages of pid {} from parent {}, which has no such "
                  "process: the image is corrupt",
                  dirs_[0], pid, dirs_[k]));
}

const PageSource& ImageChain::pages(uint32_t k, pid_t pid) {
  auto key = std::make_pair(k, pid);
  if (auto it = sources_.find(key); it != sources_.end()) return *it->second;
  const Process& p = member(k, pid);
  return *sources_.emplace(key, std::make_unique<PageSource>(dirs_[k], p)).first->second;
}

void ImageChain::verifyParentRuns(
    bool deep, WorkerPool* pool,
    const std::function<bool(const Process&, const Vma&)>& checkedLater) const {
  std::map<std::pair<uint32_t, pid_t>, std::vector<Extent>> byFile;
  for (const Process& p : images_[0]->processes)
    for (const Vma& v : p.vmas) {
      if (checkedLater && checkedLater(p, v)) continue;
      for (const PageRun& r : v.runs)
        if (!r.zero && r.image != 0)
          byFile[{r.image, p.pid}].push_back(
              Extent{r.offset, r.npages * kPageSize, r.xxh3,
                     fmt::format("run at {:#x} ({} pages, of pid {} in image {})", r.addr, r.npages,
                                 p.pid, dirs_[0])});
    }
  // Sources of its own, not pages()'s: restore checks while it reads pages.
  for (auto& [key, extents] : byFile)
    PageSource(dirs_[key.first], member(key.first, key.second)).check(extents, deep, pool);
}

}  // namespace ckpt::image
