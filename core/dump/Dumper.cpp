// Dump orchestration. The order of the locals is the safety argument: the
// image writer outlives the freezer, so on any error the tree is resumed
// first and then the partial image is removed.
#include "core/dump/Dumper.hpp"

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>

#include <fmt/format.h>

#include "core/dump/ProcessDumper.hpp"
#include "core/dump/TreeFreezer.hpp"
#include "core/hooks/DumpHooks.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/ipc/FileLocks.hpp"
#include "core/ipc/SysvIpc.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

std::vector<uint64_t> vdsoLayout(const image::Process& p) {
  std::vector<uint64_t> sizes(3, 0);
  for (const auto& v : p.vmas) {
    if (v.kind == image::VmaKind::Vvar) sizes[0] = v.end - v.start;
    if (v.kind == image::VmaKind::VvarVclock) sizes[1] = v.end - v.start;
    if (v.kind == image::VmaKind::Vdso) sizes[2] = v.end - v.start;
  }
  return sizes;
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
static DumpSummary dumpFrozen(const DumpRequest& req, const hooks::DumpHooks& hooks) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = Clock::now();
  image::ImageWriter writer(req.dir);
  // Every message of this dump, at every level, also goes into the image.
  struct LogToImage {
    explicit LogToImage(const std::string& path) { log::setFile(path); }
    ~LogToImage() { log::setFile(""); }
  } logToImage(writer.partialDir() + "/dump.log");
  TreeFreezer freezer(req.root);
  freezer.freeze();
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
  FdDumpContext fds{img, writer, {}, externals};
  fds.tcpClose = req.tcpClose;
  fds.shellJob = req.shellJob;
  fds.unixClose = req.unixClose;
  auto& frozen = freezer.processes();
  for (auto& fp : frozen) {
    image::Process p;
    dumpProcessState(fp, p, fds);
    sum.threads += p.threads.size();
    img.processes.push_back(std::move(p));
  }
  for (auto* finish : fds.finishers) finish(fds);
  fault::point("dump.finishers");
  ipc::dumpFileLocks(img);
  ipc::dumpSysvSems(img);
  ipc::dumpSysvMsgs(img, writer);
  fault::point("dump.ipc");
  for (size_t i = 0; i < frozen.size(); ++i) {
    MemoryStats st = dumpProcessMemory(frozen[i], img.processes[i], img, writer);
    sum.bytesStored += st.pagesStored * image::kPageSize;
    sum.zeroPages += st.pagesZero;
  }
  sum.processes = img.processes.size();
  img.vdso_layout = vdsoLayout(img.processes.front());
  markOutsidePipeEnds(img);
  auto tSaved = Clock::now();
  fault::point("dump.commit");
  writer.commit(img);
  log::debug(
      "frozen after {:.1f} ms, state and pages saved after {:.1f} ms, committed after {:.1f} ms",
      ms(tFrozen - t0), ms(tSaved - t0), ms(Clock::now() - t0));
  if (req.kill) freezer.killAll();
  // The freezer's destructor resumes whatever is still attached.
  auto tEnd = Clock::now();
  sum.freezeMs = ms(tEnd - t0);
  sum.totalMs = sum.freezeMs;
  return sum;
}

DumpSummary dumpTree(const DumpRequest& req) {
  checkDumpablePid(req.root);
  // Programs that take part (core/hooks/) get ready while the tree still
  // runs, and hear how the dump ended once it runs again.
  hooks::DumpHooks hooks(req.root, req.hookTimeout);
  try {
    hooks.preDump(std::filesystem::absolute(req.dir).string(), req.kill);
    fault::point("dump.hooks-pre-dump");
    DumpSummary sum = dumpFrozen(req, hooks);
    fault::point("dump.hooks-resumed");
    hooks.succeeded(req.kill);
    return sum;
  } catch (const std::exception& e) {
    hooks.failed(e.what());
    throw;
  }
}

}  // namespace ckpt
