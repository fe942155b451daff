// Which pages of another process were written, while it runs: an
// asynchronous userfaultfd write-protect context made inside that process
// (an injected userfaultfd() whose fd ckpt takes and the process closes)
// and read with PAGEMAP_SCAN on its pagemap. The program never waits for
// ckpt: its first write to a protected page only clears the protection,
// which the next scan reports.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/util/UniqueFd.hpp"

namespace ckpt {

class WriteTracker {
 public:
  struct Range {
    uint64_t start, end;
  };
  // A run of pages with the same categories (the kernel's PAGE_IS_* bits).
  struct Region {
    uint64_t start, end;
    uint64_t categories;
  };
  static constexpr uint64_t kWritten = 1ull << 1;  // PAGE_IS_WRITTEN
  static constexpr uint64_t kPresent = 1ull << 3;  // PAGE_IS_PRESENT
  static constexpr uint64_t kSwapped = 1ull << 4;  // PAGE_IS_SWAPPED
  static constexpr uint64_t kGuard = 1ull << 8;    // PAGE_IS_GUARD (MADV_GUARD_INSTALL)

  // Takes `uffd`, a userfaultfd made for the address space of `pid`
  // (core/dump/PreCopy.cpp makes it). Null (with the reason logged) when
  // this kernel allows no asynchronous write-protect: the caller then
  // copies that process frozen.
  static std::unique_ptr<WriteTracker> open(pid_t pid, UniqueFd uffd);
  // Closes the context: the kernel unregisters every mapping and the
  // program's pages are plain again, in one step the program cannot see
  // half done. (Should ckpt die instead, the same happens when the kernel
  // closes ckpt's last reference.)
  ~WriteTracker();
  WriteTracker(const WriteTracker&) = delete;
  WriteTracker& operator=(const WriteTracker&) = delete;

  pid_t pid() const { return pid_; }

  // Registers [start, end) for write-protect tracking. False when the
  // kernel refuses (the mapping changed meanwhile, or the program tracks it
  // with a userfaultfd of its own): those pages are then copied frozen.
  bool track(uint64_t start, uint64_t end);
  const std::vector<Range>& tracked() const { return tracked_; }
  // Whether [start, end) lies inside one range this tracker registered.
  bool covers(uint64_t start, uint64_t end) const;

  // The pages of [start, end) written since they were last protected (all
  // present or swapped pages, the first time), protected again in the same
  // walk. Mappings no longer registered are skipped.
  std::vector<Region> collectWritten(uint64_t start, uint64_t end);
  // Opens the pagemap again: after an exec (or a pid reused) the old one
  // shows a dead address space. Call before the last look.
  void reopenPagemap();
  // The present and swapped pages of [start, end) with their categories
  // (kWritten among them), protection unchanged: for the last look, frozen.
  std::vector<Region> presentPages(uint64_t start, uint64_t end);
  // The pages of [start, end) written since they were last protected, and
  // the holes (no page: never populated, or dropped; they have no
  // kPresent/kSwapped), protection unchanged: the last look, frozen, at a
  // mapping registered since pre-copy began. Much cheaper than
  // presentPages() (the kernel reports few regions). Nothing when part of
  // the range is not registered for asynchronous write-protect (new, moved
  // or re-made since): its written-page bits then mean nothing.
  std::optional<std::vector<Region>> writtenOrGoneIfTracked(uint64_t start, uint64_t end);

 private:
  WriteTracker(pid_t pid, UniqueFd uffd, UniqueFd pagemap)
      : pid_(pid), uffd_(std::move(uffd)), pagemap_(std::move(pagemap)) {}
  // Appends the pages with all of `allOf` and one of `anyOf` to `out`;
  // false when PM_SCAN_CHECK_WPASYNC is in `flags` and the kernel refuses.
  bool scan(uint64_t start, uint64_t end, uint64_t flags, uint64_t allOf, uint64_t anyOf,
            std::vector<Region>& out);

  pid_t pid_;
  UniqueFd uffd_;
  UniqueFd pagemap_;
  std::vector<Range> tracked_;
};

}  // namespace ckpt
