// Memory restore by injected system calls.
#include "core/restore/MemoryRestorer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <map>

#include <unistd.h>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/image/ImageFile.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/restore/SyscallBatch.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/PhaseTimes.hpp"

namespace ckpt {
namespace {

constexpr uint64_t kPage = image::kPageSize;
constexpr uint64_t kFillBatch = 64ull << 20;
// Decompressed at a time: 8 frames, one per core and more.
constexpr uint64_t kUnpackChunk = 8ull << 20;
constexpr uint64_t kScratchSize = 256 * 1024;

bool hasFlag(const image::Vma& v, const char* f) {
  return std::find(v.vmflags.begin(), v.vmflags.end(), f) != v.vmflags.end();
}

bool isSpecial(image::VmaKind k) {
  return k == image::VmaKind::Vdso || k == image::VmaKind::Vvar ||
         k == image::VmaKind::VvarVclock || k == image::VmaKind::Vsyscall;
}

// Everything of the stub goes but the scratch area and the special
// mappings: munmap takes ranges with holes in them, so one call per gap
// between those few areas does it, however many mappings ckpt has.
void unmapStub(RestoredProcess& p, const ScratchLayout& s) {
  auto maps = proc::parseMaps(proc::readProcFile(fmt::format("/proc/{}/maps", p.pid)));
  std::vector<std::pair<uint64_t, uint64_t>> keep{{s.base, s.base + s.size}};
  uint64_t top = 0;
  for (const auto& m : maps) {
    if (m.path == "[vsyscall]") continue;  // above user space: munmap cannot touch it
    if (m.path == "[vdso]" || m.path == "[vvar]" || m.path == "[vvar_vclock]")
      keep.emplace_back(m.start, m.end);
    top = std::max(top, m.end);
  }
  std::sort(keep.begin(), keep.end());
  uint64_t from = 0;
  SyscallBatch batch(p, s);
  auto unmap = [&](uint64_t a, uint64_t b) {
    if (b > a)
      batch.add(fmt::format("unmapping {:#x}-{:#x} of the stub", a, b), SYS_munmap, a, b - a);
  };
  for (auto [a, b] : keep) {
    unmap(from, std::min(a, top));
    from = std::max(from, b);
  }
  unmap(from, top);
  batch.run();
}

void moveVdso(RestoredProcess& p, const ScratchLayout& s, const image::Image& img) {
  struct Area {
    std::string name;
    uint64_t from = 0, to = 0, size = 0;
  };
  std::vector<Area> areas;
  auto maps = proc::parseMaps(proc::readProcFile(fmt::format("/proc/{}/maps", p.pid)));
  for (const auto& v : p.img->vmas) {
    if (v.kind != image::VmaKind::Vdso && v.kind != image::VmaKind::Vvar &&
        v.kind != image::VmaKind::VvarVclock)
      continue;
    Area a;
    a.name = v.name;
    a.to = v.start;
    a.size = v.end - v.start;
    for (const auto& m : maps)
      if (m.path == v.name) {
        if (m.end - m.start != a.size)
          throw Error(fmt::format(
              "the image comes from another kernel ({}): its {} is {} bytes, this kernel's is {}; "
              "restore it on the kernel it was dumped on",
              img.kernel, v.name, a.size, m.end - m.start));
        a.from = m.start;
      }
    if (!a.from)
      throw Error(fmt::format("this kernel has no {} mapping but the image ({}) has one", v.name,
                              img.kernel));
    areas.push_back(a);
  }
  bool overlap = false;
  for (const auto& a : areas)
    for (const auto& b : areas)
      if (a.from < b.to + b.size && b.to < a.from + a.size && a.from != a.to) overlap = true;
  SyscallBatch batch(p, s);
  if (overlap) {
    // Park all three in our reserved range first: a move onto an overlapping
    // area (or onto another special mapping) would fail or unmap it.
    uint64_t park = s.base + s.size;
    for (auto& a : areas) {
      batch.add("parking " + a.name, SYS_mremap, a.from, a.size, a.size,
                MREMAP_MAYMOVE | MREMAP_FIXED, park);
      a.from = park;
      park += a.size;
    }
  }
  for (const auto& a : areas) {
    if (a.from == a.to) continue;
    batch.add("moving " + a.name, SYS_mremap, a.from, a.size, a.size, MREMAP_MAYMOVE | MREMAP_FIXED,
              a.to);
  }
  batch.run();
}

bool needsWrite(const image::Vma& v, const LazyPages* lazy) {
  if (lazy && LazyPages::serves(v)) return false;  // filled by UFFDIO_COPY, whatever its protection
  for (const auto& r : v.runs)
    if (!r.zero || v.kind != image::VmaKind::Anonymous) return true;
  return false;
}

// ckpt's fds of shared objects, moved into the process for its mmap calls.
class ObjectFds {
 public:
  ObjectFds(RestoredProcess& p, const SharedObjects& objects) : p_(p), objects_(objects) {}
  ~ObjectFds() {
    for (auto& [id, fd] : fds_) p_.main->call(SYS_close, uint64_t(fd));
    if (pidfd_ >= 0) p_.main->call(SYS_close, uint64_t(pidfd_));
  }
  long fd(int id) {
    if (auto it = fds_.find(id); it != fds_.end()) return it->second;
    if (pidfd_ < 0)
      pidfd_ = p_.main->check("pidfd_open of ckpt", SYS_pidfd_open, uint64_t(getpid()), 0);
    long fd = p_.main->check(fmt::format("getting memory object {}", id), SYS_pidfd_getfd,
                             uint64_t(pidfd_), uint64_t(objects_.fd(id)), 0);
    fds_.emplace(id, fd);
    return fd;
  }

 private:
  RestoredProcess& p_;
  const SharedObjects& objects_;
  long pidfd_ = -1;
  std::map<int, long> fds_;
};

void mapAreas(RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem,
              const image::Image& img, const SharedObjects& objects, const LazyPages* lazy) {
  ObjectFds objectFds(p, objects);
  std::map<std::string, long> files;  // path+mode -> fd in the process
  // The mappings in one go; files are opened (and SysV segments attached)
  // on the way, each where no saved mapping lies.
  SyscallBatch batch(p, s);
  for (const auto& v : p.img->vmas) {
    if (isSpecial(v.kind)) continue;
    uint64_t len = v.end - v.start;
    int prot = v.prot | (needsWrite(v, lazy) ? PROT_READ | PROT_WRITE : 0);
    long fd = -1;
    int flags = MAP_FIXED;
    switch (v.kind) {
      case image::VmaKind::Anonymous:
        flags |= MAP_PRIVATE | MAP_ANONYMOUS | (hasFlag(v, "gd") ? MAP_GROWSDOWN : 0);
        break;
      case image::VmaKind::File: {
        struct stat st {};
        if (stat(v.name.c_str(), &st) != 0)
          throwErrno(fmt::format("pid {}: mapped file {} is gone", p.pid, v.name));
        // Images that fingerprint their files were checked by content
        // (Preflight.cpp): a copy with the same bytes is as good.
        if (img.mapped_files.empty() && st.st_ino != v.ino)
          throw Error(
              fmt::format("pid {}: mapped file {} was replaced since the dump (inode {} "
                          "then, {} now); the program would see different code or data",
                          p.pid, v.name, v.ino, st.st_ino));
        bool rw = v.shared && (hasFlag(v, "mw") || (v.prot & PROT_WRITE));
        std::string key = v.name + (rw ? "\1" : "\0");
        auto it = files.find(key);
        if (it == files.end()) {
          RemotePtr path = s.putString(mem, 0, v.name);
          long opened = p.main->check(fmt::format("opening mapped file {}", v.name), SYS_openat,
                                      uint64_t(AT_FDCWD), path.addr(),
                                      uint64_t((rw ? O_RDWR : O_RDONLY) | O_CLOEXEC));
          it = files.emplace(key, opened).first;
        }
        fd = it->second;
        flags |= v.shared ? MAP_SHARED : MAP_PRIVATE;
        break;
      }
      case image::VmaKind::SharedAnon:
      case image::VmaKind::Memfd:
      case image::VmaKind::DeletedFile:
      case image::VmaKind::Sysv: {
        const image::SharedObject& o = objects.object(v.object);
        uint64_t whole = (o.size + kPage - 1) & ~(kPage - 1);
        if (v.kind == image::VmaKind::Sysv && v.pgoff == 0 && len == whole) {
          // shmat, so the segment counts this attachment as the kernel would.
          int shmflg = (v.prot & PROT_WRITE ? 0 : SHM_RDONLY) | (v.prot & PROT_EXEC ? SHM_EXEC : 0);
          p.main->check(fmt::format("attaching SysV shm {} at {:#x}", o.sysv_id, v.start),
                        SYS_shmat, uint64_t(o.sysv_id), v.start, uint64_t(shmflg));
          continue;
        }
        fd = objectFds.fd(v.object);
        flags |= v.shared ? MAP_SHARED : MAP_PRIVATE;
        break;
      }
      default:
        continue;
    }
    batch.add(fmt::format("mapping {:#x}-{:#x} ({})", v.start, v.end,
                          v.name.empty() ? "anonymous" : v.name),
              SYS_mmap, v.start, len, uint64_t(prot), uint64_t(flags), uint64_t(fd), v.pgoff);
    // Before any page arrives: the fill's own faults then get huge pages.
    if (hasFlag(v, "hg")) batch.add("", SYS_madvise, v.start, len, uint64_t(MADV_HUGEPAGE));
  }
  for (auto& [k, fd] : files) batch.add("", SYS_close, uint64_t(fd));
  batch.run();
}

// Fills data runs: from plain page files (this image's or a parent's) by
// injected preadv calls, IOV_MAX iovecs at a time, so the process reads its
// own pages (one copy); from compressed ones by decompressing here, checking
// each run's checksum and writing it with process_vm_writev (the mappings
// are writable until finishAreas). Zero runs of file-backed areas come from
// /dev/zero.
void fillPages(RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem,
               image::ImageChain& chain, WorkerPool& pool, Progress* progress,
               const LazyPages* lazy) {
  const size_t maxIov = std::min<size_t>(IOV_MAX, (s.dataSize() - 4096) / sizeof(iovec));
  std::map<std::string, long> fds;  // page file path -> fd in the process
  auto remoteFd = [&](const std::string& path) {
    if (auto it = fds.find(path); it != fds.end()) return it->second;
    RemotePtr pathAt = s.putString(mem, 0, path);
    long fd = p.main->check("opening page file " + path, SYS_openat, uint64_t(AT_FDCWD),
                            pathAt.addr(), uint64_t(O_RDONLY | O_CLOEXEC));
    fds.emplace(path, fd);
    return fd;
  };
  long zeroFd = -1;
  RemotePtr iovAt = s.data() + 4096;

  struct Batch {
    long fd = -1;
    std::string path;
    uint64_t offset = 0;  // file offset of the first iovec
    uint64_t next = 0;    // file offset right after the last
    std::vector<iovec> iov;
    uint64_t bytes = 0;
  } b;
  auto flush = [&] {
    if (b.iov.empty()) return;
    mem.write(iovAt, b.iov.data(), b.iov.size() * sizeof(iovec));
    uint64_t done = 0;
    while (done < b.bytes) {
      long n =
          p.main->call(SYS_preadv, uint64_t(b.fd), iovAt.addr(), b.iov.size(), b.offset + done, 0);
      if (n <= 0)
        throw SysError(fmt::format("pid {}: reading pages from {}", p.pid, b.path),
                       n < 0 ? int(-n) : EIO);
      done += uint64_t(n);
      if (progress && b.fd != zeroFd) progress->advance(uint64_t(n));
      if (done < b.bytes) {
        // A short read (over 2 GiB, or a signal): drop what was filled and go on.
        uint64_t skip = uint64_t(n);
        std::vector<iovec> rest;
        for (auto& v : b.iov) {
          if (skip >= v.iov_len) {
            skip -= v.iov_len;
            continue;
          }
          rest.push_back({(char*)v.iov_base + skip, v.iov_len - skip});
          skip = 0;
        }
        b.iov = rest;
        mem.write(iovAt, b.iov.data(), b.iov.size() * sizeof(iovec));
      }
    }
    b.iov.clear();
    b.bytes = 0;
  };
  auto addOne = [&](long fd, const std::string& path, uint64_t offset, uint64_t addr,
                    uint64_t len) {
    bool contiguous = !b.iov.empty() && b.fd == fd && (fd == zeroFd || b.next == offset);
    if (!contiguous || b.iov.size() == maxIov || b.bytes >= kFillBatch) {
      flush();
      b.fd = fd;
      b.path = path;
      b.offset = offset;
      b.next = offset;
    }
    if (!b.iov.empty() && (char*)b.iov.back().iov_base + b.iov.back().iov_len == (char*)addr)
      b.iov.back().iov_len += len;
    else
      b.iov.push_back({reinterpret_cast<void*>(addr), len});
    b.bytes += len;
    b.next += len;
  };
  // Calls of at most kFillBatch bytes: still few, and progress moves.
  auto add = [&](long fd, const std::string& path, uint64_t offset, uint64_t addr, uint64_t len) {
    for (uint64_t at = 0; at < len; at += kFillBatch) {
      uint64_t n = std::min(kFillBatch, len - at);
      addOne(fd, path, fd == zeroFd ? 0 : offset + at, addr + at, n);
    }
  };
  image::AlignedBuffer unpacked;
  auto writeCompressed = [&](const image::PageSource& src, const image::PageRun& r) {
    if (!unpacked) unpacked = image::alignedBuffer(kUnpackChunk);
    const uint64_t len = r.npages * kPage;
    image::Xxh3Stream hash;
    for (uint64_t at = 0; at < len; at += kUnpackChunk) {
      const uint64_t take = std::min(kUnpackChunk, len - at);
      src.read(r.offset + at, take, unpacked.get(), &pool);
      hash.update(unpacked.get(), take);
      mem.write(RemotePtr(r.addr + at), unpacked.get(), take);
      if (progress) progress->advance(take);
    }
    // Before the tree runs: a mismatch fails the restore and kills every stub.
    if (hash.digest() != r.xxh3)
      src.file().fail(
          fmt::format("run at {:#x} ({} pages) checksum mismatch after "
                      "decompression: the image is corrupt",
                      r.addr, r.npages));
  };
  for (const auto& v : p.img->vmas) {
    if (lazy && LazyPages::serves(v)) continue;
    for (const auto& r : v.runs) {
      uint64_t len = r.npages * kPage;
      if (!r.zero) {
        const image::PageSource& src = chain.pages(r.image, p.pid);
        if (src.plain()) {
          add(remoteFd(src.path()), src.path(), r.offset, r.addr, len);
        } else {
          flush();
          writeCompressed(src, r);
        }
      } else if (v.kind != image::VmaKind::Anonymous) {
        if (zeroFd < 0) {
          RemotePtr z = s.putString(mem, 0, "/dev/zero");
          zeroFd = p.main->check("opening /dev/zero", SYS_openat, uint64_t(AT_FDCWD), z.addr(),
                                 uint64_t(O_RDONLY | O_CLOEXEC));
        }
        add(zeroFd, "/dev/zero", 0, r.addr, len);
      }
    }
  }
  flush();
  for (auto& [path, fd] : fds) p.main->call(SYS_close, uint64_t(fd));
  if (zeroFd >= 0) p.main->call(SYS_close, uint64_t(zeroFd));
}

void finishAreas(RestoredProcess& p, const ScratchLayout& s, const LazyPages* lazy) {
  SyscallBatch batch(p, s);
  for (const auto& v : p.img->vmas) {
    if (isSpecial(v.kind)) continue;
    uint64_t len = v.end - v.start;
    if (needsWrite(v, lazy) && uint64_t(v.prot) != uint64_t(v.prot | PROT_READ | PROT_WRITE))
      batch.add(fmt::format("mprotect {:#x}", v.start), SYS_mprotect, v.start, len,
                uint64_t(v.prot));
    static const std::pair<const char*, int> advice[] = {{"dd", MADV_DONTDUMP},
                                                         {"dc", MADV_DONTFORK},
                                                         {"wf", MADV_WIPEONFORK},
                                                         {"nh", MADV_NOHUGEPAGE}};
    for (auto [flag, adv] : advice)
      if (hasFlag(v, flag)) batch.add("", SYS_madvise, v.start, len, uint64_t(adv));
  }
  batch.run();
}

// True when the stub already runs `exe` (a restored `ckpt run` is ckpt, as
// the stub is): the kernel refuses to set an exe link while the old one's
// file is mapped (EBUSY), and here there is nothing to change.
bool alreadyRuns(pid_t pid, const std::string& exe) {
  struct stat want {
  }, have{};
  return ::stat(exe.c_str(), &want) == 0 &&
         ::stat(fmt::format("/proc/{}/exe", pid).c_str(), &have) == 0 &&
         want.st_dev == have.st_dev && want.st_ino == have.st_ino;
}

void setMmFields(RestoredProcess& p, const ScratchLayout& s, RemoteMemory& mem) {
  const image::MmFields& f = p.img->mm;
  long exeFd = -1;
  if (!alreadyRuns(p.pid, f.exe)) {
    RemotePtr exePath = s.putString(mem, 0, f.exe);
    exeFd = p.main->check("opening the executable " + f.exe, SYS_openat, uint64_t(AT_FDCWD),
                          exePath.addr(), uint64_t(O_RDONLY | O_CLOEXEC));
  }
  RemotePtr auxvAt = s.data() + 4096;
  mem.write(auxvAt, f.auxv.data(), f.auxv.size() * sizeof(uint64_t));
  prctl_mm_map map{};
  map.start_code = f.start_code;
  map.end_code = f.end_code;
  map.start_data = f.start_data;
  map.end_data = f.end_data;
  map.start_brk = f.start_brk;
  map.brk = f.brk;
  map.start_stack = f.start_stack;
  map.arg_start = f.arg_start;
  map.arg_end = f.arg_end;
  map.env_start = f.env_start;
  map.env_end = f.env_end;
  map.auxv = reinterpret_cast<__u64*>(auxvAt.addr());
  map.auxv_size = uint32_t(f.auxv.size() * sizeof(uint64_t));
  map.exe_fd = uint32_t(exeFd);
  RemotePtr mapAt = s.data() + 2048;
  mem.writeValue(mapAt, map);
  p.main->check("prctl(PR_SET_MM_MAP)", SYS_prctl, PR_SET_MM, PR_SET_MM_MAP, mapAt.addr(),
                sizeof map);
  if (exeFd >= 0) p.main->call(SYS_close, uint64_t(exeFd));
}

}  // namespace

ScratchLayout chooseScratch(const image::Image& img) {
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const auto& p : img.processes)
    for (const auto& v : p.vmas) used.emplace_back(v.start, v.end);
  for (const auto& m : proc::parseMaps(proc::readProcFile("/proc/self/maps")))
    used.emplace_back(m.start, m.end);
  std::sort(used.begin(), used.end());
  uint64_t vdsoTotal = 0;
  for (auto sz : img.vdso_layout) vdsoTotal += sz;
  ScratchLayout s;
  s.size = kScratchSize;
  s.reserve = kScratchSize + vdsoTotal + 16 * kPage;
  // Low in the address space, away from where mmap and the stack put things.
  for (uint64_t cand = 0x10000000000ull; cand < 0x700000000000ull; cand += 0x1000000000ull) {
    bool clash = std::any_of(used.begin(), used.end(), [&](auto& r) {
      return r.first < cand + s.reserve && cand < r.second;
    });
    if (!clash) {
      s.base = cand;
      return s;
    }
  }
  throw Error("no free address range for restore's scratch area");
}

void restoreMemory(RestoredProcess& p, const ScratchLayout& scratch, const image::Image& img,
                   image::ImageChain& chain, WorkerPool& pool, const SharedObjects& objects,
                   Progress* progress, LazyPages* lazy, PhaseTimes* times) {
  auto mark = [&](std::string_view phase) {
    if (times) times->mark(phase);
  };
  RemoteMemory mem(p.pid);
  // The stub inherited ckpt's rseq registration; it must go before the memory
  // it points into does, or every resume faults.
  __ptrace_rseq_configuration rseq{};
  if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, p.pid, sizeof rseq, &rseq) > 0 && rseq.rseq_abi_pointer)
    p.main->check("unregistering the stub's rseq", SYS_rseq, rseq.rseq_abi_pointer,
                  rseq.rseq_abi_size, 1 /* RSEQ_FLAG_UNREGISTER */, rseq.signature);
  p.main->check("closing the stub's files", SYS_close_range, 0, ~0u, 0);
  mark("memory: stub rseq, files");
  unmapStub(p, scratch);
  mark("memory: unmap stub");
  moveVdso(p, scratch, img);
  mark("memory: vdso");
  mapAreas(p, scratch, mem, img, objects, lazy);
  mark("memory: map areas");
  if (lazy) lazy->adopt(p);
  mark("memory: lazy adopt");
  fillPages(p, scratch, mem, chain, pool, progress, lazy);
  mark("memory: fill");
  finishAreas(p, scratch, lazy);
  mark("memory: protections");
  setMmFields(p, scratch, mem);
  mark("memory: mm fields");
}

}  // namespace ckpt
