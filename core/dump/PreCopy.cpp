// Pre-copy rounds and the last, frozen, look. Why the image is one instant:
// a page copied in a round was write-protected (in the same walk that found
// it written) before it was read, so if the program writes it again, a
// later walk reports it; the frozen walk finds the rest. Pages found written
// are forgotten before they are copied, so a copy that fails half-way
// leaves them missing (copied frozen), never stale.
#include "core/dump/PreCopy.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "core/dump/MemorySnapshot.hpp"
#include "core/image/Checksum.hpp"
#include "core/image/PageCodec.hpp"
#include "core/mem/WriteTracker.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/ptrace/SyscallInsn.hpp"
#include "core/util/CpuPin.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;
// Rounds stop when the tree wrote less than this during the last one (the
// frozen copy of about as much takes well under a millisecond), when the
// written amount stops shrinking (a program that rewrites its memory faster
// than it is copied), or after this many rounds.
constexpr uint64_t kFewBytes = 2ull << 20;
constexpr int kMaxRounds = 8;

using Range = PageLedger::Range;

// Sorted, overlaps and neighbours merged.
std::vector<Range> unite(std::vector<Range> v) {
  std::sort(v.begin(), v.end(), [](const Range& a, const Range& b) { return a.start < b.start; });
  std::vector<Range> out;
  for (const Range& r : v) {
    if (r.start >= r.end) continue;
    if (!out.empty() && r.start <= out.back().end)
      out.back().end = std::max(out.back().end, r.end);
    else
      out.push_back(r);
  }
  return out;
}

// `a` without `b`; both united.
std::vector<Range> subtract(const std::vector<Range>& a, const std::vector<Range>& b) {
  std::vector<Range> out;
  size_t k = 0;
  for (Range r : a) {
    while (k < b.size() && b[k].end <= r.start) ++k;
    for (size_t i = k; i < b.size() && b[i].start < r.end; ++i) {
      if (b[i].start > r.start) out.push_back({r.start, b[i].start});
      r.start = std::max(r.start, b[i].end);
    }
    if (r.start < r.end) out.push_back(r);
  }
  return out;
}

std::vector<Range> clip(const std::vector<Range>& a, uint64_t lo, uint64_t hi) {
  std::vector<Range> out;
  for (const Range& r : a)
    if (r.start < hi && lo < r.end) out.push_back({std::max(lo, r.start), std::min(hi, r.end)});
  return out;
}

// The processes of the tree of `root` as /proc shows them now, the tree
// running: a hint (the freeze finds the tree as it really is).
std::vector<pid_t> treeNow(pid_t root) {
  std::vector<pid_t> out{root};
  for (size_t i = 0; i < out.size(); ++i) {
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator(fmt::format("/proc/{}/task", out[i]), ec)) {
      std::string children;
      try {
        children = proc::readProcFile(task.path().string() + "/children");
      } catch (const Error&) {
        continue;  // gone
      }
      std::istringstream in(children);
      for (pid_t c; in >> c;)
        if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

// A userfaultfd for the address space of `fp`, which must be frozen. Made
// by a helper child sharing its memory but not its fds (HeldChild), so that
// a ckpt killed at any moment leaves no fd behind in the program: the
// helper dies with ckpt, and with it the only reference it holds.
UniqueFd makeUserfaultfd(FrozenProcess& fp) {
  // On the CPU the leader last ran on, where it wakes for every injected
  // call: each round trip is then no scheduling wait.
  CpuPin pin(proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", fp.pid))).processor);
  auto helper = HeldChild::clone(fp, CLONE_VM | CLONE_FS, "userfaultfd helper");
  if (!helper) return {};
  const pid_t pid = fp.pid, child = helper->pid();
  long fd;
  {
    Tracee self = Tracee::adopt(child);
    RemoteSyscalls rs(self, syscallInsnOf(pid));
    // Its copy of the program's fds would keep pipes and sockets open.
    rs.call(SYS_close_range, 0, ~0u, 0);
    fd = rs.call(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    // vm.unprivileged_userfaultfd=0 still lets anyone track user-mode
    // faults, which is all asynchronous write-protect needs.
    if (fd == -EPERM) fd = rs.call(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
    rs.abandon();
    self.release();
  }
  if (fd < 0) {
    log::debug("pid {}: no userfaultfd ({}); its memory is copied frozen", pid, strerror(int(-fd)));
    return {};
  }
  UniqueFd pidfd(int(syscall(SYS_pidfd_open, child, 0)));
  if (!pidfd) throwErrno(fmt::format("pidfd_open of pid {}'s helper {}", pid, child));
  UniqueFd uffd(int(syscall(SYS_pidfd_getfd, pidfd.get(), int(fd), 0)));
  if (!uffd) throwErrno(fmt::format("pid {}: taking the userfaultfd of its helper {}", pid, child));
  return uffd;
}

}  // namespace

struct PreCopy::Tracked {
  pid_t pid = 0;
  std::unique_ptr<WriteTracker> tracker;
  image::DataFile* file = nullptr;
  std::unique_ptr<image::PageFileWriter> pages;
  PageLedger ledger;
  // False once a walk failed half-way: pages may then be protected without
  // having been reported, so nothing copied before the freeze is trusted.
  bool trusted = true;
  // Pages found written whose copy failed (an area unmapped meanwhile, most
  // likely): copied frozen if they are still there.
  std::vector<Range> uncopied;
  // Per mapping of the image record, the pages it holds (set frozen).
  std::vector<std::vector<PageLedger::Range>> keep;
};

PreCopy::PreCopy(pid_t root, image::ImageWriter& writer, bool pageHashes, uint64_t smallBytes)
    : writer_(writer), pageHashes_(pageHashes) {
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  std::vector<pid_t> jobStopped;
  if (chooseSmall(root, smallBytes)) {
    // Stopped only to make each process's userfaultfd (an injected call).
    TreeFreezer brief(root);
    brief.freeze();
    for (const auto& fp : brief.processes())
      if (fp.stopped) jobStopped.push_back(fp.pid);
    track(brief.processes());
  }
  // The freezer let job-stopped processes go with a new SIGSTOP: wait until
  // they are stopped again, or the freeze would find them running and the
  // image would say so.
  for (pid_t pid : jobStopped) {
    for (int i = 0; i < 1000; ++i) {
      char state = 0;
      try {
        state = proc::parseStat(proc::readProcFile(fmt::format("/proc/{}/stat", pid))).state;
      } catch (const Error&) {
        break;  // gone
      }
      if (state == 'T' || state == 'Z') break;
      usleep(1000);
    }
  }
  auto tTracked = Clock::now();
  fault::point("dump.precopy-track");
  copyRounds();
  for (auto& t : tracked_) {
    // On disk now, so that the commit's fsync (frozen, with --kill) has
    // little left to do.
    if (fdatasync(t->file->fd()) != 0) throwErrno("syncing " + t->file->path());
    lookAt(t->pid);
  }
  log::debug(
      "pre-copy: {} processes tracked ({} small ones left to the freeze) in {:.1f} ms, {} "
      "rounds, {:.1f} MiB copied in {:.1f} ms",
      tracked_.size(), small_.size(),
      std::chrono::duration<double, std::milli>(tTracked - t0).count(), stats_.rounds,
      stats_.bytesRunning / 1048576.0,
      std::chrono::duration<double, std::milli>(Clock::now() - tTracked).count());
}

PreCopy::~PreCopy() {
  release();
}

void PreCopy::release() {
  tracked_.clear();
}

bool PreCopy::chooseSmall(pid_t root, uint64_t smallBytes) {
  if (smallBytes == 0) return true;
  bool large = false;
  for (pid_t pid : treeNow(root)) {
    proc::ProcStatus st;
    try {
      st = proc::parseStatus(proc::readProcFile(fmt::format("/proc/{}/status", pid)));
    } catch (const Error&) {
      continue;  // gone
    }
    if (!st.rss_anon_kb) continue;  // a zombie
    if (((*st.rss_anon_kb + st.vm_swap_kb.value_or(0)) << 10) > smallBytes) {
      large = true;
      continue;
    }
    small_.insert(pid);
    lookAt(pid);
  }
  return large;
}

void PreCopy::lookAt(pid_t pid) {
  // Read now, not frozen: smaps walks every page (core/mem/VmFlagsCarry.hpp).
  try {
    const std::string dir = fmt::format("/proc/{}/", pid);
    Look& look = looks_[pid];
    look.maps = proc::parseMaps(proc::readProcFile(dir + "maps"));
    const std::string text = proc::readProcFile(dir + "smaps");
    look.flags = proc::parseSmapsVmFlags(text);
    if (look.hugeMaps.empty()) {
      look.hugeMaps = look.maps;
      look.anonHugeKb = proc::parseSmapsAnonHugePages(text);
    }
  } catch (const Error& e) {
    log::debug("pid {}: {}", pid, e.what());  // gone: the freeze finds out
  }
}

void PreCopy::track(std::vector<FrozenProcess>& processes) {
  for (FrozenProcess& fp : processes) {
    if (fp.zombie || fp.stopped || fp.threads.empty() || small(fp.pid)) continue;
    UniqueFd uffd = makeUserfaultfd(fp);
    if (!uffd) continue;
    auto tracker = WriteTracker::open(fp.pid, std::move(uffd));
    if (!tracker) continue;
    auto t = std::make_unique<Tracked>();
    t->pid = fp.pid;
    t->tracker = std::move(tracker);
    tracked_.push_back(std::move(t));
  }
  // Registration needs no stop: the tree runs again from here on.
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    Tracked& t = **it;
    const std::string dir = fmt::format("/proc/{}/", t.pid);
    const std::string smaps = proc::readProcFile(dir + "smaps");
    auto flags = proc::parseSmapsVmFlags(smaps);
    // A program with userfaultfd areas of its own: the write-protect bits
    // the last look reads could be its own, so it is not tracked at all.
    bool foreign = false;
    for (const auto& [start, fl] : flags)
      for (const auto& f : fl) foreign |= f == "uw" || f == "um" || f == "ui";
    if (foreign) {
      log::debug("pid {} uses userfaultfd itself; its memory is copied frozen", t.pid);
      it = tracked_.erase(it);
      continue;
    }
    // Read last, just before registering: a mapping the program grows
    // meanwhile would be split by registering it at its old size (and the
    // program's own mremap of the whole of it would then fail until the
    // tracker is gone), so the time between the two is kept short.
    auto maps = proc::parseMaps(proc::readProcFile(dir + "maps"));
    for (const auto& m : maps) {
      image::VmaKind kind;
      try {
        kind = classifyMapping(t.pid, m);
      } catch (const Error&) {
        continue;  // the frozen dump names it
      }
      if (kind == image::VmaKind::Anonymous) t.tracker->track(m.start, m.end);
    }
    // Huge pages as the program has them: write tracking splits those it writes.
    Look& look = looks_[t.pid];
    look.hugeMaps = std::move(maps);
    look.anonHugeKb = proc::parseSmapsAnonHugePages(smaps);
    t.file = &writer_.dataFile(fmt::format("pages-{}.img", t.pid));
    t.pages = std::make_unique<image::PageFileWriter>(*t.file, image::Compression{}, nullptr);
    ++it;
  }
}

uint64_t PreCopy::copyRanges(Tracked& t, const std::vector<PageLedger::Range>& ranges) {
  PagePlan plan;
  for (const auto& r : ranges) {
    plan.ranges.push_back({0, r.start, (r.end - r.start) / kPage});
    plan.pages += (r.end - r.start) / kPage;
  }
  if (plan.pages == 0) return 0;
  // One mapping spanning everything: the runs come back in copy order.
  std::vector<image::Vma> scratch(1);
  std::vector<uint64_t> hashes;  // of the data pages, in run order
  PageSink sink{*t.pages, nullptr, pageHashes_ ? &hashes : nullptr};
  auto recordRuns = [&] {
    size_t next = 0;
    for (const auto& run : scratch[0].runs) {
      std::vector<uint64_t> own;
      if (pageHashes_ && !run.zero) {
        own.assign(hashes.begin() + long(next), hashes.begin() + long(next + run.npages));
        next += run.npages;
      }
      t.ledger.record(run, std::move(own));
    }
  };
  try {
    storePrivatePages(t.pid, plan, sink, scratch, nullptr);
  } catch (...) {
    recordRuns();  // the runs written before the failure
    throw;
  }
  recordRuns();
  return plan.pages * kPage;
}

void PreCopy::copyRounds() {
  if (tracked_.empty()) {
    fault::point("dump.precopy");
    return;  // no rounds: everything is copied frozen
  }
  uint64_t previous = 0;
  for (int round = 0; round < kMaxRounds; ++round) {
    uint64_t bytes = 0;
    for (auto& tp : tracked_) {
      Tracked& t = *tp;
      if (!t.trusted) continue;
      std::vector<PageLedger::Range> written;
      try {
        for (const auto& r : t.tracker->tracked())
          for (const auto& reg : t.tracker->collectWritten(r.start, r.end))
            if (!(reg.categories & WriteTracker::kGuard)) written.push_back({reg.start, reg.end});
      } catch (const Error& e) {
        log::debug("pid {}: pre-copy stops ({}); its memory is copied frozen", t.pid, e.what());
        t.trusted = false;
        continue;
      }
      for (const auto& w : written) t.ledger.forget(w.start, w.end);
      try {
        bytes += copyRanges(t, written);
      } catch (const Error& e) {
        // E.g. an area unmapped meanwhile: what was not copied is missing,
        // and the frozen copy takes what is left of it.
        log::debug("pid {}: pre-copy round {}: {}", t.pid, round, e.what());
        for (const auto& w : written)
          for (const auto& m : t.ledger.missing(w.start, w.end)) t.uncopied.push_back(m);
        t.uncopied = unite(std::move(t.uncopied));
      }
    }
    stats_.rounds++;
    stats_.bytesRunning += bytes;
    log::debug("pre-copy round {}: {:.1f} MiB", round, bytes / 1048576.0);
    if (round == 0) fault::point("dump.precopy");
    if (bytes <= kFewBytes) break;
    if (round > 0 && bytes * 10 > previous * 8) break;  // not shrinking any more
    previous = bytes;
  }
}

PreCopy::Tracked* PreCopy::find(pid_t pid) const {
  for (const auto& t : tracked_)
    if (t->pid == pid) return t.get();
  return nullptr;
}

bool PreCopy::tracks(pid_t pid) const {
  return find(pid) != nullptr;
}

std::optional<KnownMappings> PreCopy::known(pid_t pid,
                                            const std::vector<proc::MapsEntry>& maps) const {
  auto it = looks_.find(pid);
  if (it == looks_.end() || it->second.maps.empty()) return std::nullopt;
  const Look& look = it->second;
  auto flags = carryVmFlags(look.maps, look.flags, maps);
  if (!flags) {
    log::debug("pid {}: a shared mapping changed during pre-copy; smaps read frozen", pid);
    return std::nullopt;
  }
  return KnownMappings{std::move(*flags), carryAnonHuge(look.hugeMaps, look.anonHugeKb, maps)};
}

void PreCopy::copyFrozen(const FrozenProcess& fp, image::Process& p) {
  Tracked& t = *find(fp.pid);
  if (p.pages_file != t.file->name())
    throw Error(fmt::format("internal: pid {} pages go to {}, pre-copy wrote {}", fp.pid,
                            p.pages_file, t.file->name()));
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = Clock::now();
  t.tracker->reopenPagemap();
  t.keep.assign(p.vmas.size(), {});
  std::vector<PageLedger::Range> now;
  for (size_t j = 0; j < p.vmas.size(); ++j) {
    image::Vma& v = p.vmas[j];
    std::erase(v.vmflags, "uw");  // ckpt's own tracking, not the program's
    if (v.kind != image::VmaKind::Anonymous) continue;
    // Written-page bits are ours only in a mapping registered with our
    // context since pre-copy began (the program has no userfaultfd of its
    // own); new, moved or re-made mappings are copied whole.
    std::optional<std::vector<WriteTracker::Region>> seen;
    if (t.trusted && t.tracker->covers(v.start, v.end))
      seen = t.tracker->writtenOrGoneIfTracked(v.start, v.end);
    if (seen) {
      // The image holds what was copied before and is still there, and
      // what was written since, copied now.
      std::vector<Range> written, gone;
      for (const auto& reg : *seen) {
        const bool there = (reg.categories & (WriteTracker::kPresent | WriteTracker::kSwapped)) &&
                           !(reg.categories & WriteTracker::kGuard);
        (there ? written : gone).push_back({reg.start, reg.end});
      }
      gone = unite(std::move(gone));
      auto fresh = clip(t.uncopied, v.start, v.end);
      fresh.insert(fresh.end(), written.begin(), written.end());
      fresh = subtract(unite(std::move(fresh)), gone);
      auto keep = t.ledger.covered(v.start, v.end);
      keep.insert(keep.end(), fresh.begin(), fresh.end());
      t.keep[j] = subtract(unite(std::move(keep)), gone);
      now.insert(now.end(), fresh.begin(), fresh.end());
      continue;
    }
    for (const auto& reg : t.tracker->presentPages(v.start, v.end)) {
      if (reg.categories & WriteTracker::kGuard) continue;
      t.keep[j].push_back({reg.start, reg.end});
      now.push_back({reg.start, reg.end});
    }
  }
  auto tScanned = Clock::now();
  // The copied-on-write pages of private file mappings: few, and not tracked.
  PagePlan files = planPrivatePages(
      fp.pid, p.vmas, [](const image::Vma& v) { return v.kind != image::VmaKind::Anonymous; });
  for (const auto& r : files.ranges) {
    t.keep[r.vma].push_back({r.addr, r.addr + r.npages * kPage});
    now.push_back({r.addr, r.addr + r.npages * kPage});
  }
  for (const auto& r : now) t.ledger.forget(r.start, r.end);
  auto tPlanned = Clock::now();
  const uint64_t bytes = copyRanges(t, now);
  stats_.bytesFrozen += bytes;
  log::debug("pid {}: last look {:.2f} ms, file mappings {:.2f} ms, {} KiB copied in {:.2f} ms",
             fp.pid, ms(tScanned - t0), ms(tPlanned - tScanned), bytes >> 10,
             ms(Clock::now() - tPlanned));
}

MemoryStats PreCopy::fillRuns(image::Process& p, std::vector<uint64_t>* pageHashes) {
  Tracked& t = *find(p.pid);
  UniqueFd in(::open(t.file->path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throwErrno("opening " + t.file->path() + " to read it back");
  std::vector<char> buf;
  // Checksums of pieces cut out of longer runs, from the bytes just written.
  auto checksum = [&](uint64_t offset, uint64_t len) {
    image::Xxh3Stream h;
    buf.resize(std::min<uint64_t>(len, 4ull << 20));
    for (uint64_t done = 0; done < len;) {
      size_t want = size_t(std::min<uint64_t>(buf.size(), len - done));
      ssize_t n = pread(in.get(), buf.data(), want, off_t(offset + done));
      if (n <= 0) throwErrno(fmt::format("reading back {} at {}", t.file->path(), offset + done));
      h.update(buf.data(), size_t(n));
      done += uint64_t(n);
    }
    return h.digest();
  };
  MemoryStats st;
  for (size_t j = 0; j < p.vmas.size() && j < t.keep.size(); ++j) {
    auto& runs = p.vmas[j].runs;
    for (const auto& k : t.keep[j]) t.ledger.runs(k.start, k.end, runs, checksum, pageHashes);
    for (const auto& r : runs) (r.zero ? st.pagesZero : st.pagesStored) += r.npages;
  }
  p.pages_codec.clear();
  p.pages_frames.clear();
  return st;
}

}  // namespace ckpt
