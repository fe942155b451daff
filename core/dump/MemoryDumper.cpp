// Memory dump: pagemap to find the pages worth saving, process_vm_readv in
// 64 MiB batches into one page-aligned buffer, zero pages dropped in place,
// one write per batch.
#include "core/dump/MemoryDumper.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/mem/SharedObjects.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;
// Small enough that the two buffers stay hot (reused, no page faults after
// the first round) and reading overlaps writing; big enough for few calls.
constexpr uint64_t kBatchBytes = 8ull << 20;
constexpr uint64_t kPmPresent = 1ull << 63;
constexpr uint64_t kPmSwapped = 1ull << 62;
constexpr uint64_t kPmFileOrShared = 1ull << 61;

// A page-aligned buffer from mmap, unmapped on scope exit.
class PageBuffer {
 public:
  explicit PageBuffer(size_t len) : len_(len) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throwErrno(fmt::format("allocating a {} MiB buffer", len >> 20));
    data_ = static_cast<char*>(p);
  }
  ~PageBuffer() { munmap(data_, len_); }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  char* data() { return data_; }

 private:
  char* data_;
  size_t len_;
};

bool isZeroPage(const char* p) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t acc = 0;
  for (size_t i = 0; i < kPage / 8; ++i) acc |= w[i];
  return acc == 0;
}

// Reads batches of pages on the calling thread while a second thread squeezes
// out zero pages, checksums and writes the previous batch: reading from the
// process and writing the file overlap instead of taking turns.
class BatchWriter {
 public:
  BatchWriter(pid_t pid, const PageSink& sink, std::vector<image::Vma>& vmas, MemoryStats& stats,
              Progress* progress)
      : mem_(pid),
        sink_(sink),
        parent_(sink.parent),
        vmas_(vmas),
        stats_(stats),
        progress_(progress) {
    slots_[0].buf = std::make_unique<PageBuffer>(kBatchBytes);
    slots_[1].buf = std::make_unique<PageBuffer>(kBatchBytes);
  }
  ~BatchWriter() {
    if (!writer_.joinable()) return;
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  void add(size_t vma, uint64_t addr, uint64_t npages) {
    while (npages > 0) {
      Slot& s = slots_[cur_];
      uint64_t room = (kBatchBytes - s.used) / kPage;
      uint64_t take = std::min(room, npages);
      if (!s.ranges.empty() && s.ranges.back().vma == vma &&
          s.ranges.back().addr + s.ranges.back().npages * kPage == addr)
        s.ranges.back().npages += take;
      else
        s.ranges.push_back({vma, addr, take});
      s.used += take * kPage;
      addr += take * kPage;
      npages -= take;
      if (s.used == kBatchBytes) submit();
    }
  }

  // Reads what is pending, waits until everything is written; rethrows a write error.
  void finish() {
    if (!writer_.joinable()) {
      // No more than one batch in all (the last pages of a dump, copied
      // frozen): read and written here, no thread to wait for.
      Slot& s = slots_[cur_];
      if (!s.ranges.empty()) {
        read(s);
        write(s);
      }
      return;
    }
    submit();
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !slots_[0].full && !slots_[1].full; });
    if (error_) std::rethrow_exception(error_);
  }

 private:
  struct Slot {
    std::unique_ptr<PageBuffer> buf;
    std::vector<PendingRange> ranges;
    uint64_t used = 0;
    bool full = false;  // read, waiting for (or being handled by) the writer
  };

  void read(Slot& s) {
    std::vector<iovec> remote;
    remote.reserve(s.ranges.size());
    for (auto& r : s.ranges)
      remote.push_back({reinterpret_cast<void*>(r.addr), size_t(r.npages * kPage)});
    mem_.readv(remote, s.buf->data());
    fault::point("dump.memory");
  }

  void submit() {
    Slot& s = slots_[cur_];
    if (s.ranges.empty()) return;
    if (!writer_.joinable()) writer_ = std::thread([this] { writerLoop(); });
    read(s);
    {
      std::lock_guard lock(mu_);
      s.full = true;
    }
    cv_.notify_all();
    cur_ ^= 1;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !slots_[cur_].full || error_; });
    if (error_) std::rethrow_exception(error_);
  }

  void writerLoop() {
    int next = 0;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return slots_[next].full || stop_; });
        if (!slots_[next].full) return;
      }
      try {
        if (!error_) write(slots_[next]);
      } catch (...) {
        std::lock_guard lock(mu_);
        error_ = std::current_exception();
      }
      {
        std::lock_guard lock(mu_);
        slots_[next].ranges.clear();
        slots_[next].used = 0;
        slots_[next].full = false;
      }
      cv_.notify_all();
      next ^= 1;
    }
  }

  // Squeezes out zero pages (and, in an incremental dump, pages the parent
  // holds unchanged) in place, cutting runs where the kind changes, then
  // writes the rest with one call.
  void write(Slot& slot) {
    char* base = slot.buf->data();
    const uint64_t fileStart = sink_.file.rawSize();
    char* dst = base;
    const char* src = base;
    const bool hashPages = sink_.hashes || sink_.parent;
    struct Cut {
      size_t vma;
      image::PageRun run;
      const char* data;                        // own data runs: their bytes, once squeezed
      std::unique_ptr<image::Xxh3Stream> ref;  // runs in the parent: hashed as they go by
    };
    std::vector<Cut> cuts;
    for (auto& r : slot.ranges) {
      for (uint64_t i = 0; i < r.npages; ++i, src += kPage) {
        const bool zero = isZeroPage(src);
        const uint64_t addr = r.addr + i * kPage;
        uint32_t inImage = 0;
        uint64_t refOffset = 0;
        if (!zero && hashPages) {
          const uint64_t h = image::xxh3(src, kPage);
          if (sink_.hashes) sink_.hashes->push_back(h);
          if (const ParentPages::Page* p = parent_.find(addr); p && p->hash == h) {
            inImage = p->image;
            refOffset = p->offset;
          }
        }
        Cut* last = cuts.empty() ? nullptr : &cuts.back();
        bool extend = last && last->vma == r.vma && last->run.zero == zero &&
                      last->run.image == inImage &&
                      last->run.addr + last->run.npages * kPage == addr &&
                      (inImage == 0 || last->run.offset + last->run.npages * kPage == refOffset);
        if (!extend) {
          image::PageRun run;
          run.addr = addr;
          run.zero = zero;
          run.image = inImage;
          run.offset = zero ? 0 : inImage ? refOffset : fileStart + uint64_t(dst - base);
          cuts.push_back({r.vma, run, dst, nullptr});
          last = &cuts.back();
          if (inImage) last->ref = std::make_unique<image::Xxh3Stream>();
        }
        last->run.npages++;
        if (zero) {
          stats_.pagesZero++;
        } else if (inImage) {
          // Hashed now: a later page may be moved over these bytes.
          last->ref->update(src, kPage);
          stats_.pagesInParent++;
        } else {
          if (dst != src) std::memmove(dst, src, kPage);
          dst += kPage;
          stats_.pagesStored++;
        }
      }
    }
    if (dst != base) sink_.file.append(base, size_t(dst - base));
    if (progress_) progress_->advance(uint64_t(src - base));
    for (auto& c : cuts) {
      if (c.ref)
        c.run.xxh3 = c.ref->digest();
      else if (!c.run.zero)
        c.run.xxh3 = image::xxh3(c.data, c.run.npages * kPage);
      vmas_[c.vma].runs.push_back(c.run);
    }
  }

  RemoteMemory mem_;
  const PageSink& sink_;
  ParentLookup parent_;
  std::vector<image::Vma>& vmas_;
  MemoryStats& stats_;
  Progress* progress_;
  Slot slots_[2];
  int cur_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread writer_;
};

}  // namespace

image::VmaKind classifyMapping(pid_t pid, const proc::MapsEntry& m) {
  const std::string& p = m.path;
  if (p == "[vdso]") return image::VmaKind::Vdso;
  if (p == "[vvar]") return image::VmaKind::Vvar;
  if (p == "[vvar_vclock]") return image::VmaKind::VvarVclock;
  if (p == "[vsyscall]") return image::VmaKind::Vsyscall;
  if (p.empty() || p == "[heap]" || p == "[stack]" || p.rfind("[anon:", 0) == 0)
    return m.shared ? image::VmaKind::SharedAnon : image::VmaKind::Anonymous;
  if (m.shared && m.deleted && p == "/dev/zero") return image::VmaKind::SharedAnon;
  auto where = [&] {
    return fmt::format("pid {} mapping {:#x}-{:#x} ({})", pid, m.start, m.end, p);
  };
  if (p.rfind("/SYSV", 0) == 0 && m.deleted) return image::VmaKind::Sysv;
  if (p.rfind("/memfd:", 0) == 0 && m.deleted) return image::VmaKind::Memfd;
  if (m.deleted) return image::VmaKind::DeletedFile;
  if (p[0] == '[') throw Error(where() + ": unknown special mapping");
  return image::VmaKind::File;
}

void describeMemory(pid_t pid, const std::vector<proc::MapsEntry>& maps,
                    const std::map<uint64_t, std::vector<std::string>>& vmflags,
                    std::vector<image::Vma>& vmas, image::Image& img, image::ImageWriter& writer) {
  vmas.clear();
  for (const auto& m : maps) {
    image::Vma v;
    v.start = m.start;
    v.end = m.end;
    v.prot = m.prot;
    v.shared = m.shared;
    v.kind = classifyMapping(pid, m);
    v.name = m.path;
    v.pgoff = m.offset;
    v.dev = m.dev;
    v.ino = m.inode;
    if (auto it = vmflags.find(m.start); it != vmflags.end()) v.vmflags = it->second;
    bool travels = v.kind == image::VmaKind::SharedAnon || v.kind == image::VmaKind::Sysv ||
                   v.kind == image::VmaKind::Memfd || v.kind == image::VmaKind::DeletedFile;
    if (travels) {
      // The object itself, through the mapping: works whatever the process did with its fds.
      std::string path = fmt::format("/proc/{}/map_files/{:x}-{:x}", pid, m.start, m.end);
      UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd) throwErrno(fmt::format("pid {}: opening {} ({})", pid, path, m.path));
      std::string name = m.path;
      if (v.kind == image::VmaKind::Memfd) name = name.substr(1);  // "memfd:NAME"
      v.object = saveSharedObject(img, writer, fd.get(), v.kind, name);
    }
    vmas.push_back(std::move(v));
  }
}

bool holdsPrivatePages(const image::Vma& v) {
  // Private pages of the process: anonymous memory, and the copied-on-write
  // pages of private file-like mappings. Shared objects are saved whole.
  return v.kind == image::VmaKind::Anonymous ||
         (!v.shared && (v.kind == image::VmaKind::File || v.kind == image::VmaKind::DeletedFile ||
                        v.kind == image::VmaKind::Memfd));
}

PagePlan planPrivatePages(pid_t pagesPid, const std::vector<image::Vma>& vmas,
                          const std::function<bool(const image::Vma&)>& only) {
  PagePlan plan;
  std::string pmPath = fmt::format("/proc/{}/pagemap", pagesPid);
  UniqueFd pagemap(::open(pmPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap) throwErrno("opening " + pmPath);
  auto add = [&](size_t vma, uint64_t addr, uint64_t npages) {
    plan.ranges.push_back({vma, addr, npages});
    plan.pages += npages;
  };
  std::vector<uint64_t> pm;
  for (size_t i = 0; i < vmas.size(); ++i) {
    const image::Vma& v = vmas[i];
    if (!holdsPrivatePages(v)) continue;  // content lives in the file or the kernel
    if (only && !only(v)) continue;
    const bool anon = v.kind == image::VmaKind::Anonymous;
    uint64_t npages = (v.end - v.start) / kPage;
    constexpr uint64_t kChunk = 64 * 1024;  // pagemap entries per read
    for (uint64_t first = 0; first < npages; first += kChunk) {
      uint64_t count = std::min(kChunk, npages - first);
      pm.resize(count);
      off_t off = off_t((v.start / kPage + first) * 8);
      ssize_t n = pread(pagemap.get(), pm.data(), count * 8, off);
      if (n != ssize_t(count * 8)) throwErrno(fmt::format("reading {} at {:#x}", pmPath, v.start));
      uint64_t runStart = 0, runLen = 0;
      for (uint64_t k = 0; k < count; ++k) {
        uint64_t e = pm[k];
        bool keep = anon ? (e & (kPmPresent | kPmSwapped)) != 0
                         : ((e & kPmPresent) && !(e & kPmFileOrShared)) || (e & kPmSwapped);
        if (keep) {
          if (runLen == 0) runStart = first + k;
          runLen++;
        } else if (runLen) {
          add(i, v.start + runStart * kPage, runLen);
          runLen = 0;
        }
      }
      if (runLen) add(i, v.start + runStart * kPage, runLen);
    }
  }
  return plan;
}

MemoryStats storePrivatePages(pid_t pagesPid, const PagePlan& plan, const PageSink& sink,
                              std::vector<image::Vma>& vmas, Progress* progress) {
  MemoryStats stats;
  BatchWriter batch(pagesPid, sink, vmas, stats, progress);
  for (const auto& r : plan.ranges) batch.add(r.vma, r.addr, r.npages);
  batch.finish();
  return stats;
}

}  // namespace ckpt
