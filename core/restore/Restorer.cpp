// Restore orchestration: check the image's structure first, its data beside
// building the tree and filling each process, and detach all of them
// together at the end, once every check passed. The TreeBuilder kills every
// stub if anything throws before that.
#include "core/restore/Restorer.hpp"

#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <optional>

#include <fmt/format.h>

#include "core/hooks/RestartHooks.hpp"
#include "core/image/ImageReader.hpp"
#include "core/ipc/FileLocks.hpp"
#include "core/ipc/SysvIpc.hpp"
#include "core/layers/Layer.hpp"
#include "core/ptrace/Tracee.hpp"
#include "core/restore/BackgroundCheck.hpp"
#include "core/restore/MemoryRestorer.hpp"
#include "core/restore/Preflight.hpp"
#include "core/restore/StateRestorer.hpp"
#include "core/restore/TreeBuilder.hpp"
#include "core/util/CpuPin.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"
#include "core/util/PhaseTimes.hpp"
#include "core/util/Progress.hpp"

namespace ckpt {
namespace {

void checkPidsFree(const image::Image& img) {
  for (const auto& p : img.processes) {
    waitPidFree(p.pid);
    for (const auto& t : p.threads)
      if (t.tid != p.pid) waitPidFree(t.tid);
  }
}

}  // namespace

RestoreSummary restoreTree(const RestoreRequest& req) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = Clock::now();
  PhaseTimes times("restore timings", t0);
  // Before any thread of ours exists (image checks, decompression, lazy
  // pages): the tracees' SIGCHLD must reach only the thread that waits.
  blockChildStopSignal();
  char abs[PATH_MAX];
  if (!realpath(req.dir.c_str(), abs)) throwErrno(fmt::format("image {}", req.dir));
  std::string dir = abs;
  image::Image img = image::readImage(dir);
  times.mark("manifest");
  if (img.processes.empty()) throw Error(fmt::format("image {} holds no process", dir));
  // Where everything lies and what must fit this machine: before anything.
  image::verifyImage(dir, img, /*deep=*/false, [](const auto&, const auto&) { return true; });
  image::ImageChain chain(dir, img);
  checkImageFitsHereQuickly(img);
  times.mark("image structure");
  // What takes reading data: beside the injected calls, and done before any
  // process runs. Page runs: compressed ones are checked as they are
  // decompressed, before the tree runs, and with --lazy pages with hashes
  // as the page server copies them: not here.
  image::LaterCheck later = [lazy = req.lazy](const image::Process& p, const image::Vma& v) {
    return lazy ? LazyPages::checksLater(p, v) : !p.pages_codec.empty();
  };
  BackgroundCheck deferred([&] {
    image::verifyPageRuns(dir, img, /*deep=*/false, later);
    chain.verifyParentRuns(/*deep=*/false, nullptr, later);
    checkMappedFiles(img);
  });
  fault::point("restore.verify");
  auto t1 = Clock::now();
  WorkerPool pool;  // decompression; before the pin, so its threads run anywhere

  try {
    checkPidsFree(img);
    times.mark("pids free");
    // Before the pin: its thread answers faults from any CPU.
    std::optional<LazyPages> lazy;
    if (req.lazy) lazy.emplace(chain);
    // Tracer and tracees on one CPU: each injected call is a round trip, and
    // cross-CPU wakeups make it several times slower. Stubs inherit the pin.
    CpuPin pin;
    ScratchLayout scratch = chooseScratch(img);
    std::vector<std::unique_ptr<LayerRestore>> layerRestores;
    for (Layer* layer : layers())
      if (auto lr = layer->beginRestore(img, req)) layerRestores.push_back(std::move(lr));
    TreeBuilder tree(img, scratch);
    tree.onSessionLeader([&](RestoredProcess& p) {
      for (auto& lr : layerRestores) lr->sessionLeader(p);
    });
    times.mark("setup");
    tree.build();
    times.mark("tree");
    fault::point("restore.tree");
    // Before the stubs become the processes: set from inside the ones that
    // used them last, while every stub still has its scratch area to spare.
    ipc::CreatedSysvObjects sysv;
    ipc::restoreSysvSems(img, tree, sysv);
    ipc::restoreSysvMsgs(img, dir, tree, scratch, sysv);
    for (auto& lr : layerRestores) lr->treeBuilt(tree.processes(), scratch);
    fault::point("restore.layers");
    SharedObjects objects(img, dir);
    FdRestoreContext files{img, dir, {}, {}, {}, &objects};
    times.mark("layers and shared objects");
    // Shown while pages are read, and gone before the tree runs on the terminal.
    std::optional<Progress> progress;
    progress.emplace("restore", Progress::wanted());
    for (const auto& ip : img.processes)
      for (const auto& v : ip.vmas)
        for (const auto& r : v.runs)
          if (!r.zero && !(lazy && LazyPages::serves(v)))
            progress->addTotal(r.npages * image::kPageSize);
    for (auto& p : tree.processes()) {
      if (p.img->zombie) continue;
      restoreMemory(p, scratch, img, chain, pool, objects, &*progress, lazy ? &*lazy : nullptr,
                    &times);
      fault::point("restore.memory");
      restoreFds(p, scratch, files);
      times.mark("fds");
      fault::point("restore.fds");
      ipc::restoreFileLocks(p, scratch, img);
      restoreProcessState(p, scratch);
      times.mark("process state");
      fault::point("restore.state");
      restoreThreads(p, scratch, tree);
      times.mark("threads");
      fault::point("restore.threads");
    }
    progress.reset();
    deferred.wait();
    times.mark("waiting for the image checks");
    fault::point("restore.detach");
    objects.finish();
    sysv.keep();
    RestoreSummary sum;
    sum.started = t0;
    if (lazy) {
      // The page server (and its watchdog) is up before any process runs:
      // the tree's first touches are answered at once.
      std::vector<pid_t> pids;
      for (const auto& p : tree.processes()) pids.push_back(p.pid);
      sum.lazy = lazy->handOff(pids, req.detach, dir + "/lazy.log");
      times.mark("page server hand-off");
    }
    for (auto& p : tree.processes())
      for (auto& t : p.threads) {
        pin.unpin(t.tid());
        t.detach();
      }
    tree.disarm();
    for (auto& p : tree.processes())
      if (p.img->stopped && !p.img->zombie) kill(p.pid, SIGSTOP);
    times.mark("detach");
    for (auto& lr : layerRestores) lr->treeRunning(img, img.processes.front().pid);
    times.mark("layers running");
    times.log();
    sum.root = img.processes.front().pid;
    sum.processes = img.processes.size();
    sum.verifyMs = ms(t1 - t0);
    sum.restoreMs = ms(Clock::now() - t1);
    // The tree runs: programs that take part learn that they were restored.
    sum.hookErrors = hooks::notifyRestarted(img.hooks, req.hookOptions, req.hookTimeout);
    return sum;
  } catch (...) {
    deferred.wait();
    throw;
  }
}

}  // namespace ckpt
