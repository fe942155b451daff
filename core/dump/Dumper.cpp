// Dump orchestration. The order of the locals is the safety argument: the
// image writer outlives the freezer, so on any error the tree is resumed
// first and then the partial image is removed.
#include "core/dump/Dumper.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include <fmt/format.h>

#include "core/dump/MemorySnapshot.hpp"
#include "core/dump/ParentPages.hpp"
#include "core/dump/PreCopy.hpp"
#include "core/dump/ProcessDumper.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/hooks/DumpHooks.hpp"
#include "core/image/FileFingerprint.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/PageCodec.hpp"
#include "core/ipc/FileLocks.hpp"
#include "core/ipc/SysvIpc.hpp"
#include "core/layers/Layer.hpp"
#include "core/proc/Vdso.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"
#include "core/util/Progress.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt {
namespace {

// Up to this much private anonymous memory mapped, a process is copied
// while frozen (about half a millisecond here) rather than given a
// copy-on-write snapshot.
constexpr uint64_t kSnapshotMinBytes = 1ull << 20;

uint64_t anonymousBytes(const std::vector<image::Vma>& vmas) {
  uint64_t n = 0;
  for (const auto& v : vmas)
    if (v.kind == image::VmaKind::Anonymous && !v.shared) n += v.end - v.start;
  return n;
}

std::vector<uint64_t> vdsoLayout(const image::Process& p) {
  std::vector<uint64_t> sizes(3, 0);
  for (const auto& v : p.vmas) {
    if (v.kind == image::VmaKind::Vvar) sizes[0] = v.end - v.start;
    if (v.kind == image::VmaKind::VvarVclock) sizes[1] = v.end - v.start;
    if (v.kind == image::VmaKind::Vdso) sizes[2] = v.end - v.start;
  }
  return sizes;
}

// Every file the tree maps, once, as it is now: restore refuses the image if
// one changed since (see core/image/FileFingerprint.hpp).
std::vector<image::MappedFile> fingerprintMappedFiles(const image::Image& img) {
  std::map<std::string, image::MappedFile> files;
  std::map<std::string, uint64_t> inodes;
  for (const auto& p : img.processes)
    for (const auto& v : p.vmas) {
      if (v.kind != image::VmaKind::File) continue;
      inodes.emplace(v.name, v.ino);
      // Shared and writable (now, or after an mprotect): the tree's own data.
      const bool written =
          v.shared && ((v.prot & PROT_WRITE) ||
                       std::find(v.vmflags.begin(), v.vmflags.end(), "mw") != v.vmflags.end());
      if (auto it = files.find(v.name); it != files.end()) {
        it->second.written = it->second.written || written;
        continue;
      }
      image::MappedFile f;
      try {
        f = image::fingerprintFile(v.name);
      } catch (const Error& e) {
        // The path no longer names it (moved away meanwhile): restore
        // finds no such file, or another one, and says so.
        log::warn("pid {}: {}; the image will need that file at restore", p.pid, e.what());
        f.path = v.name;
        f.ino = v.ino;
      }
      if (f.ino != v.ino) {
        log::warn("pid {}: {} is no longer the file it mapped (inode {} then, {} now)", p.pid,
                  v.name, v.ino, f.ino);
        f = image::MappedFile{};
        f.path = v.name;
        f.ino = v.ino;
      }
      f.written = written;
      files.emplace(v.name, f);
    }
  std::vector<image::MappedFile> out;
  for (auto& [path, f] : files) out.push_back(std::move(f));
  return out;
}

void markOutsidePipeEnds(image::Image& img) {
  for (auto& pipe : img.pipes) {
    bool reader = false, writer = false;
    for (const auto& f : img.files) {
      if (f.pipe != pipe.id) continue;
      int acc = f.flags & O_ACCMODE;
      if (acc == O_RDONLY || acc == O_RDWR) reader = true;
      if (acc == O_WRONLY || acc == O_RDWR) writer = true;
    }
    pipe.reader_outside = !reader;
    pipe.writer_outside = !writer;
    if (!reader || !writer)
      log::warn(
          "a pipe (inode {}) has its {} end outside the tree; after restore that end is "
          "closed",
          pipe.ino, reader ? "write" : "read");
  }
}

}  // namespace

// The dump proper, between the hooks' pre-dump and resumed.
static DumpSummary dumpFrozen(const DumpRequest& req, const hooks::DumpHooks& hooks,
                              const std::vector<std::unique_ptr<LayerDump>>& layerDumps,
                              const image::Compression& compression, const ParentPages* parent) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = Clock::now();
  // Frames are compressed on every core while the batch reader goes on.
  std::optional<WorkerPool> pool;
  if (compression.enabled()) pool.emplace();
  image::ImageWriter writer(req.dir);
  // Every message of this dump, at every level, also goes into the image.
  struct LogToImage {
    explicit LogToImage(const std::string& path) { log::setFile(path); }
    ~LogToImage() { log::setFile(""); }
  } logToImage(writer.partialDir() + "/dump.log");
  const bool wantHashes = req.pageHashes || parent;
  // Declared before the freezer: write trackers and snapshots are let go
  // once the tree runs again.
  std::optional<PreCopy> precopy;
  if (req.preCopy && !compression.enabled() && !parent)
    precopy.emplace(req.root, writer, wantHashes, req.preCopyMinBytes);
  std::vector<std::unique_ptr<MemorySnapshot>> snapshots;
  std::optional<TreeFreezer> freezer;
  // The code injection needs, searched for while the tree runs (a search
  // through the root's libc takes a millisecond or two): frozen, each
  // process that maps the same libc only has the bytes checked.
  GadgetCache gadgets;
  try {
    RollbackGadgets::find(req.root, &gadgets);
  } catch (const Error& e) {
    log::debug("pid {}: {}; injection code is searched for frozen", req.root, e.what());
  }
  auto tFreeze = Clock::now();
  freezer.emplace(req.root);
  freezer->freeze();
  MemorySnapshot::reapLeftovers(*freezer);
  fault::point("dump.freeze");
  auto tFrozen = Clock::now();

  image::Image img;
  img.ckpt_version = CKPT_VERSION;
  utsname u{};
  uname(&u);
  img.kernel = u.release;
  img.hostname = u.nodename;
  img.created_unix = std::time(nullptr);
  img.root_pid = req.root;
  img.hooks = hooks.hooks();

  DumpSummary sum;
  auto externals = req.externals;
  externals.insert(externals.end(), hooks.externals().begin(), hooks.externals().end());
  std::vector<pid_t> frozenPids;
  for (const auto& fp : freezer->processes()) frozenPids.push_back(fp.pid);
  for (const auto& ld : layerDumps) {
    auto more = ld->externals(frozenPids);
    externals.insert(externals.end(), more.begin(), more.end());
  }
  FdDumpContext fds{img, writer, {}, externals};
  fds.tcpClose = req.tcpClose;
  fds.shellJob = req.shellJob;
  fds.unixClose = req.unixClose;
  auto& frozen = freezer->processes();
  for (auto& fp : frozen) {
    image::Process p;
    dumpProcessState(fp, p, fds, gadgets);
    sum.threads += p.threads.size();
    img.processes.push_back(std::move(p));
  }
  for (auto* finish : fds.finishers) finish(fds);
  fault::point("dump.finishers");
  ipc::dumpFileLocks(img);
  ipc::dumpSysvSems(img);
  ipc::dumpSysvMsgs(img, writer);
  fault::point("dump.ipc");
  // Memory: the mappings and shared objects while frozen; private pages from a
  // copy-on-write snapshot once the tree runs again (with --kill, the tree
  // stays frozen until the image is complete, so a failed dump leaves it
  // alive: no snapshot then).
  std::vector<pid_t> pagesFrom(frozen.size(), 0);
  // Not with --shell-job: the tree may run on that terminal while pages are written.
  Progress progress("dump", Progress::wanted() && !req.shellJob);
  img.compression = compression.text();
  if (parent) img.parents = parent->chain();
  // The page hashes file and the summary, once a process's pages are stored.
  auto account = [&](image::Process& p, const MemoryStats& st,
                     const std::vector<uint64_t>& hashes) {
    if (wantHashes) {
      p.page_hashes_file = fmt::format("hashes-{}.img", p.pid);
      p.page_hashes_xxh3 =
          writer.writeBlob(p.page_hashes_file, hashes.data(), hashes.size() * sizeof(uint64_t));
    }
    sum.bytesStored += st.pagesStored * image::kPageSize;
    sum.zeroPages += st.pagesZero;
    sum.parentPages += st.pagesInParent;
    sum.bytesOnDisk += writer.dataFile(p.pages_file).size();
  };
  auto savePages = [&](size_t i, pid_t from, const PagePlan& plan) {
    image::Process& p = img.processes[i];
    image::DataFile& file = writer.dataFile(p.pages_file);
    image::PageFileWriter pages(file, compression, pool ? &*pool : nullptr);
    std::vector<uint64_t> hashes;
    PageSink sink{pages, parent ? parent->process(p.pid) : nullptr, wantHashes ? &hashes : nullptr};
    MemoryStats st = storePrivatePages(from, plan, sink, p.vmas, &progress);
    p.pages_codec = compression.codec;
    p.pages_frames = pages.frames();
    account(p, st, hashes);
  };
  log::debug("process state saved after {:.1f} ms", ms(Clock::now() - t0));
  VmFlagsSource known;
  if (precopy)
    known = [&](pid_t pid, const std::vector<proc::MapsEntry>& maps) {
      return precopy->known(pid, maps);
    };
  bool copiedSmall = false;
  for (size_t i = 0; i < frozen.size(); ++i) {
    if (frozen[i].zombie) continue;
    describeProcessMemory(frozen[i], img.processes[i], img, writer, known);
    if (precopy && precopy->tracks(frozen[i].pid)) {
      precopy->copyFrozen(frozen[i], img.processes[i]);
      continue;
    }
    // Small processes are copied at once: as quick as a fork, and nothing
    // to reap. (Sizes from the mappings: a pagemap scan would cost the
    // freeze ~15 ms per GiB.) So are those pre-copy found small.
    std::unique_ptr<MemorySnapshot> snap;
    const bool small = precopy && precopy->small(frozen[i].pid);
    if (!req.kill && !small && anonymousBytes(img.processes[i].vmas) > kSnapshotMinBytes)
      snap = MemorySnapshot::take(frozen[i], img.processes[i].vmas);
    if (snap) {
      pagesFrom[i] = snap->pid();
      snapshots.push_back(std::move(snap));
    } else {
      PagePlan plan = planPrivatePages(frozen[i].pid, img.processes[i].vmas);
      progress.addTotal(plan.pages * image::kPageSize);
      savePages(i, frozen[i].pid, plan);
      sum.bytesCopiedFrozen += plan.pages * image::kPageSize;
      if (small && !copiedSmall) {
        copiedSmall = true;
        fault::point("dump.precopy-small");
      }
    }
  }
  if (precopy) {
    sum.preCopyRounds = precopy->stats().rounds;
    sum.bytesCopiedFrozen += precopy->stats().bytesFrozen;
    fault::point("dump.precopy-frozen");
  }
  fault::point("dump.snapshot");
  auto tHeld = Clock::now();
  auto tFrozenEnd = tHeld;
  // Everything the image needs of the tree is copied: unless it is to be
  // killed, it runs on while the rest is written.
  if (!req.kill && (!snapshots.empty() || precopy)) {
    // The freezer's destructor lets every thread go exactly where it stopped.
    freezer.reset();  // `frozen` is gone from here on
    tFrozenEnd = Clock::now();
  }
  if (precopy) {
    for (auto& p : img.processes) {
      if (!precopy->tracks(p.pid) || p.zombie) continue;
      std::vector<uint64_t> hashes;
      account(p, precopy->fillRuns(p, wantHashes ? &hashes : nullptr), hashes);
    }
    // With --kill the trackers go with the tree: unregistering would only
    // lengthen the freeze.
    if (!req.kill) precopy->release();
  }
  if (!snapshots.empty()) {
    std::vector<PagePlan> plans(pagesFrom.size());
    for (size_t i = 0; i < pagesFrom.size(); ++i) {
      if (!pagesFrom[i]) continue;
      plans[i] = planPrivatePages(pagesFrom[i], img.processes[i].vmas);
      progress.addTotal(plans[i].pages * image::kPageSize);
    }
    for (size_t i = 0; i < pagesFrom.size(); ++i)
      if (pagesFrom[i]) savePages(i, pagesFrom[i], plans[i]);
  }
  sum.processes = img.processes.size();
  img.vdso_layout = vdsoLayout(img.processes.front());
  img.vdso_xxh3 = proc::thisKernelVdso().xxh3;  // the tree's kernel is ckpt's
  img.mapped_files = fingerprintMappedFiles(img);
  markOutsidePipeEnds(img);
  for (const auto& ld : layerDumps) ld->beforeCommit(img, writer);
  auto tSaved = Clock::now();
  fault::point("dump.commit");
  writer.commit(img);
  log::debug(
      "frozen after {:.1f} ms, memory held (snapshots: {}) after {:.1f} ms, pages saved after "
      "{:.1f} ms, committed after {:.1f} ms",
      ms(tFrozen - t0), snapshots.size(), ms(tHeld - t0), ms(tSaved - t0), ms(Clock::now() - t0));
  if (req.beforeRelease && req.kill) req.beforeRelease(writer.dir());
  if (freezer) {
    if (req.kill) freezer->killAll();
    // The freezer's destructor resumes whatever is still attached.
    freezer.reset();
    tFrozenEnd = Clock::now();
  }
  snapshots.clear();
  sum.freezeMs = ms(tFrozenEnd - tFreeze);
  if (req.beforeRelease && !req.kill) req.beforeRelease(writer.dir());
  sum.totalMs = ms(Clock::now() - t0);
  return sum;
}

DumpSummary dumpTree(const DumpRequest& req) {
  checkDumpablePid(req.root);
  std::vector<std::unique_ptr<LayerDump>> layerDumps;
  for (Layer* layer : layers())
    if (auto ld = layer->beginDump(req.root)) layerDumps.push_back(std::move(ld));
  for (const auto& ld : layerDumps) ld->beforeFreeze();
  // Programs that take part (core/hooks/) get ready while the tree still
  // runs, and hear how the dump ended once it runs again.
  const image::Compression compression = image::parseCompression(req.compress);
  // The parent is read before anything is frozen: it can be large.
  std::optional<ParentPages> parent;
  if (!req.parent.empty()) parent.emplace(req.parent);
  hooks::DumpHooks hooks(req.root, req.hookTimeout);
  try {
    hooks.preDump(std::filesystem::absolute(req.dir).string(), req.kill);
    fault::point("dump.hooks-pre-dump");
    DumpSummary sum = dumpFrozen(req, hooks, layerDumps, compression, parent ? &*parent : nullptr);
    fault::point("dump.hooks-resumed");
    hooks.succeeded(req.kill);
    return sum;
  } catch (const std::exception& e) {
    hooks.failed(e.what());
    throw;
  }
}

}  // namespace ckpt
