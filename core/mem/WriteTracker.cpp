// The userfaultfd context and the PAGEMAP_SCAN walks. The kernel headers of
// the build machines predate PAGEMAP_SCAN and UFFD_FEATURE_WP_ASYNC (Linux
// 6.7), so their layouts are spelled out here.
#include "core/mem/WriteTracker.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kFeatureWpAsync = 1ull << 15;  // UFFD_FEATURE_WP_ASYNC

struct PageRegion {  // struct page_region
  uint64_t start, end, categories;
};
struct PmScanArg {  // struct pm_scan_arg
  uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
  uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
constexpr unsigned long kPagemapScan = _IOWR('f', 16, PmScanArg);
constexpr uint64_t kScanWpMatching = 1ull << 0;    // PM_SCAN_WP_MATCHING
constexpr uint64_t kScanCheckWpAsync = 1ull << 1;  // PM_SCAN_CHECK_WPASYNC

// Walks (and ioctls that write-protect) take the program's mmap lock; in
// steps of this size, its page faults and mmap calls never wait long.
constexpr uint64_t kStep = 64ull << 20;
constexpr size_t kRegionsPerCall = 4096;

}  // namespace

std::unique_ptr<WriteTracker> WriteTracker::open(pid_t pid, UniqueFd uffd) {
  UniqueFd pagemap(::open(fmt::format("/proc/{}/pagemap", pid).c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap) throwErrno(fmt::format("pid {}: opening its pagemap", pid));
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kFeatureWpAsync;
  if (ioctl(uffd.get(), UFFDIO_API, &api) != 0) {
    log::debug(
        "pid {}: the kernel refuses asynchronous write-protect ({}); its memory is copied "
        "frozen",
        pid, strerror(errno));
    return nullptr;
  }
  return std::unique_ptr<WriteTracker>(new WriteTracker(pid, std::move(uffd), std::move(pagemap)));
}

WriteTracker::~WriteTracker() {
  // Unregistering also lifts the protection of every page, under the
  // program's mmap lock: in steps, so that its page faults go on between them.
  // A mapping the program grew in place since it was registered is
  // registered beyond the recorded range: unregistering only that range
  // would split it until the fd is closed, and the program's own mremap of
  // all of it would fail meanwhile. So each range is widened to the
  // private anonymous mappings it touches now.
  std::vector<Range> ranges = tracked_;
  try {
    for (const auto& m : proc::parseMaps(proc::readProcFile(fmt::format("/proc/{}/maps", pid_)))) {
      if (m.shared || m.inode != 0) continue;
      for (Range& r : ranges)
        if (m.start < r.end && r.start < m.end) {
          r.start = std::min(r.start, m.start);
          r.end = std::max(r.end, m.end);
        }
    }
  } catch (const Error&) {
    // Gone, or no maps to read: the recorded ranges, and the close does the rest.
  }
  for (const Range& r : ranges) {
    for (uint64_t at = r.start; at < r.end;) {
      const uint64_t to = std::min(r.end, (at / kStep + 1) * kStep);
      uffdio_range range{at, to - at};
      at = to;
      ioctl(uffd_.get(), UFFDIO_UNREGISTER, &range);  // fails only where the mapping is gone
    }
  }
}

void WriteTracker::reopenPagemap() {
  UniqueFd fd(::open(fmt::format("/proc/{}/pagemap", pid_).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwErrno(fmt::format("pid {}: opening its pagemap", pid_));
  pagemap_ = std::move(fd);
}

bool WriteTracker::track(uint64_t start, uint64_t end) {
  uffdio_register reg{};
  reg.range = {start, end - start};
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  if (ioctl(uffd_.get(), UFFDIO_REGISTER, &reg) != 0) {
    log::debug("pid {}: {:#x}-{:#x} not tracked ({}); copied frozen", pid_, start, end,
               strerror(errno));
    return false;
  }
  tracked_.push_back({start, end});
  return true;
}

bool WriteTracker::covers(uint64_t start, uint64_t end) const {
  // Adjacent registered mappings may have merged into one since.
  auto sorted = tracked_;
  std::sort(sorted.begin(), sorted.end(),
            [](const Range& a, const Range& b) { return a.start < b.start; });
  uint64_t at = start;
  for (const Range& r : sorted)
    if (r.start <= at && at < r.end) at = r.end;
  return at >= end;
}

std::vector<WriteTracker::Region> WriteTracker::collectWritten(uint64_t start, uint64_t end) {
  // Written and populated: an unpopulated page counts as written too, and
  // protecting it would plant a marker (and a copy of a page of zeros).
  std::vector<Region> out;
  scan(start, end, kScanWpMatching, kWritten, kPresent | kSwapped, out);
  return out;
}

std::vector<WriteTracker::Region> WriteTracker::presentPages(uint64_t start, uint64_t end) {
  std::vector<Region> out;
  scan(start, end, 0, 0, kPresent | kSwapped, out);
  return out;
}

std::optional<std::vector<WriteTracker::Region>> WriteTracker::writtenOrGoneIfTracked(
    uint64_t start, uint64_t end) {
  // A hole carries no write-protect bit, so it counts as written.
  std::vector<Region> out;
  if (!scan(start, end, kScanCheckWpAsync, kWritten, 0, out)) return std::nullopt;
  return out;
}

bool WriteTracker::scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t allOf,
                        uint64_t anyOf, std::vector<Region>& out) {
  const uint64_t returnMask = kWritten | kPresent | kSwapped | kGuard;
  std::vector<PageRegion> vec(kRegionsPerCall);
  auto add = [&](const PageRegion& r) {
    if (!out.empty() && out.back().end == r.start && out.back().categories == r.categories)
      out.back().end = r.end;
    else
      out.push_back({r.start, r.end, r.categories});
  };
  for (uint64_t step = start; step < end;) {
    // Steps end on multiples of kStep: a huge page cut by a step would be split.
    const uint64_t stepEnd = std::min(end, (step / kStep + 1) * kStep);
    PmScanArg arg{};
    arg.size = sizeof arg;
    arg.flags = flags;
    arg.start = step;
    arg.end = stepEnd;
    arg.vec = reinterpret_cast<uint64_t>(vec.data());
    arg.vec_len = vec.size();
    arg.category_mask = allOf;
    arg.category_anyof_mask = anyOf;
    arg.return_mask = returnMask;
    long n = ioctl(pagemap_.get(), kPagemapScan, &arg);
    if (n < 0 && errno == EPERM && (flags & kScanCheckWpAsync)) return false;
    if (n < 0) throwErrno(fmt::format("pid {}: PAGEMAP_SCAN of {:#x}-{:#x}", pid_, step, stepEnd));
    for (long i = 0; i < n; ++i) add(vec[size_t(i)]);
    // Only a full vector means the walk stopped early: with more than 512
    // regions the kernel may report walk_end < end for a complete walk.
    if (size_t(n) == vec.size() && arg.walk_end > step && arg.walk_end < stepEnd)
      step = arg.walk_end;
    else
      step = stepEnd;
  }
  return true;
}

}  // namespace ckpt
