// Memory dump: pagemap to find the pages worth saving, process_vm_readv in
// 64 MiB batches into one page-aligned buffer, zero pages dropped in place,
// one write per batch.
#include "core/dump/MemoryDumper.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;
constexpr uint64_t kBatchBytes = 64ull << 20;
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

// Pages of one mapping that must be saved, as [first, last) page ranges.
struct PendingRange {
  size_t vma;
  uint64_t addr;
  uint64_t npages;
};

class BatchWriter {
 public:
  BatchWriter(pid_t pid, image::DataFile& out, std::vector<image::Vma>& vmas, MemoryStats& stats)
      : mem_(pid), out_(out), vmas_(vmas), stats_(stats), buf_(kBatchBytes) {}

  void add(size_t vma, uint64_t addr, uint64_t npages) {
    while (npages > 0) {
      uint64_t room = (kBatchBytes - used_) / kPage;
      uint64_t take = std::min(room, npages);
      if (!pending_.empty() && pending_.back().vma == vma &&
          pending_.back().addr + pending_.back().npages * kPage == addr)
        pending_.back().npages += take;
      else
        pending_.push_back({vma, addr, take});
      used_ += take * kPage;
      addr += take * kPage;
      npages -= take;
      if (used_ == kBatchBytes) flush();
    }
  }

  void flush() {
    if (pending_.empty()) return;
    std::vector<iovec> remote;
    remote.reserve(pending_.size());
    for (auto& r : pending_)
      remote.push_back({reinterpret_cast<void*>(r.addr), size_t(r.npages * kPage)});
    char* base = buf_.data();
    mem_.readv(remote, base);

    // Squeeze out zero pages in place, cutting runs at zero/data boundaries.
    uint64_t fileStart = out_.size();
    char* dst = base;
    const char* src = base;
    struct Cut {
      size_t vma;
      image::PageRun run;
      const char* data;
    };
    std::vector<Cut> cuts;
    for (auto& r : pending_) {
      for (uint64_t i = 0; i < r.npages; ++i, src += kPage) {
        bool zero = isZeroPage(src);
        uint64_t addr = r.addr + i * kPage;
        Cut* last = cuts.empty() ? nullptr : &cuts.back();
        bool extend = last && last->vma == r.vma && last->run.zero == zero &&
                      last->run.addr + last->run.npages * kPage == addr;
        if (!extend) {
          image::PageRun run;
          run.addr = addr;
          run.zero = zero;
          run.offset = zero ? 0 : fileStart + uint64_t(dst - base);
          cuts.push_back({r.vma, run, dst});
          last = &cuts.back();
        }
        last->run.npages++;
        if (zero) {
          stats_.pagesZero++;
        } else {
          if (dst != src) std::memmove(dst, src, kPage);
          dst += kPage;
          stats_.pagesStored++;
        }
      }
    }
    if (dst != base) out_.append(base, size_t(dst - base));
    for (auto& c : cuts) {
      if (!c.run.zero) c.run.xxh3 = image::xxh3(c.data, c.run.npages * kPage);
      vmas_[c.vma].runs.push_back(c.run);
    }
    pending_.clear();
    used_ = 0;
  }

 private:
  RemoteMemory mem_;
  image::DataFile& out_;
  std::vector<image::Vma>& vmas_;
  MemoryStats& stats_;
  PageBuffer buf_;
  std::vector<PendingRange> pending_;
  uint64_t used_ = 0;
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
  auto where = [&] { return fmt::format("pid {} mapping {:#x}-{:#x} ({})", pid, m.start, m.end, p); };
  if (p.rfind("/SYSV", 0) == 0)
    throw Error(where() + ": SysV shared memory cannot be checkpointed yet");
  if (p.rfind("/memfd:", 0) == 0)
    throw Error(where() + ": memfd mappings cannot be checkpointed yet");
  if (m.deleted)
    throw Error(where() + ": mappings of deleted files cannot be checkpointed yet");
  if (p[0] == '[') throw Error(where() + ": unknown special mapping");
  return image::VmaKind::File;
}

MemoryStats dumpMemory(pid_t pid, const std::vector<proc::MapsEntry>& maps,
                       const std::map<uint64_t, std::vector<std::string>>& vmflags,
                       image::DataFile& pages, std::vector<image::Vma>& vmas) {
  MemoryStats stats;
  std::string pmPath = fmt::format("/proc/{}/pagemap", pid);
  UniqueFd pagemap(::open(pmPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!pagemap) throwErrno("opening " + pmPath);

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
    vmas.push_back(std::move(v));
  }

  BatchWriter batch(pid, pages, vmas, stats);
  std::vector<uint64_t> pm;
  for (size_t i = 0; i < vmas.size(); ++i) {
    const image::Vma& v = vmas[i];
    bool anon = v.kind == image::VmaKind::Anonymous || v.kind == image::VmaKind::SharedAnon;
    bool privateFile = v.kind == image::VmaKind::File && !v.shared;
    if (!anon && !privateFile) continue;  // content lives in the file or the kernel
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
          batch.add(i, v.start + runStart * kPage, runLen);
          runLen = 0;
        }
      }
      if (runLen) batch.add(i, v.start + runStart * kPage, runLen);
    }
  }
  batch.flush();
  return stats;
}

}  // namespace ckpt
