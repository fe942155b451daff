// ParentPages: one sorted vector per process (a few MiB for GiBs of pages),
// searched with a cursor because the dump walks addresses in order.
#include "core/dump/ParentPages.hpp"

#include <limits.h>
#include <stdlib.h>

#include <fmt/format.h>

#include <algorithm>

#include "core/image/Checksum.hpp"
#include "core/image/ImageChain.hpp"
#include "core/image/ImageFile.hpp"
#include "core/image/ImageReader.hpp"
#include "core/image/PageHashes.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;

// For images dumped without page hashes: read every page once.
std::vector<uint64_t> computedHashes(image::ImageChain& chain, const image::Process& p) {
  std::vector<uint64_t> hashes;
  constexpr uint64_t kChunk = uint64_t{8} << 20;
  image::AlignedBuffer buf = image::alignedBuffer(kChunk);
  for (const auto& v : p.vmas)
    for (const auto& r : v.runs) {
      if (r.zero) continue;
      const image::PageSource& src = chain.pages(r.image, p.pid);
      const uint64_t len = r.npages * kPage;
      for (uint64_t at = 0; at < len; at += kChunk) {
        const uint64_t take = std::min(kChunk, len - at);
        src.read(r.offset + at, take, buf.get(), nullptr);
        for (uint64_t o = 0; o < take; o += kPage)
          hashes.push_back(image::xxh3(buf.get() + o, kPage));
      }
    }
  return hashes;
}

}  // namespace

ParentPages::ParentPages(const std::string& dirIn) {
  char abs[PATH_MAX];
  if (!realpath(dirIn.c_str(), abs))
    throwErrno(fmt::format("--parent {}: the parent image", dirIn));
  const std::string dir = abs;
  const image::Image img = image::readImage(dir);
  image::ImageChain chain(dir, img);
  chain_.push_back(image::ParentImage{dir, image::manifestChecksum(dir)});
  chain_.insert(chain_.end(), img.parents.begin(), img.parents.end());
  for (const image::Process& p : img.processes) {
    if (p.zombie) continue;
    const std::vector<uint64_t> hashes =
        p.page_hashes_file.empty() ? computedHashes(chain, p) : image::readPageHashes(dir, p);
    if (p.page_hashes_file.empty())
      log::info(
          "parent {} has no page hashes (made by an older ckpt): read its "
          "pages of pid {} instead",
          dir, p.pid);
    std::vector<Page>& out = pages_[p.pid];
    out.reserve(hashes.size());
    size_t i = 0;
    for (const auto& v : p.vmas)
      for (const auto& r : v.runs) {
        if (r.zero) continue;
        for (uint64_t k = 0; k < r.npages; ++k)
          out.push_back(Page{r.addr + k * kPage, hashes[i++], r.image + 1, r.offset + k * kPage});
      }
    std::sort(out.begin(), out.end(), [](const Page& a, const Page& b) { return a.addr < b.addr; });
  }
}

const std::vector<ParentPages::Page>* ParentPages::process(pid_t pid) const {
  auto it = pages_.find(pid);
  return it == pages_.end() ? nullptr : &it->second;
}

const ParentPages::Page* ParentLookup::find(uint64_t addr) {
  if (!pages_ || pages_->empty()) return nullptr;
  const auto& v = *pages_;
  if (next_ >= v.size() || v[next_].addr != addr) {
    auto it = std::lower_bound(v.begin(), v.end(), addr,
                               [](const ParentPages::Page& p, uint64_t a) { return p.addr < a; });
    next_ = size_t(it - v.begin());
    if (next_ >= v.size() || v[next_].addr != addr) return nullptr;
  }
  return &v[next_++];
}

}  // namespace ckpt
