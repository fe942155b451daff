// Restore orchestration: verify everything first, then build the tree, fill
// each process, and detach all of them together at the end. The TreeBuilder
// kills every stub if anything throws before that.
#include "core/restore/Restorer.hpp"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "core/image/ImageReader.hpp"
#include "core/restore/MemoryRestorer.hpp"
#include "core/restore/StateRestorer.hpp"
#include "core/restore/TreeBuilder.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

void checkPrivilege(const image::Image& img) {
  if (geteuid() == 0) return;
  uid_t me = getuid();
  for (const auto& p : img.processes)
    for (uint32_t u : p.creds.uid)
      if (u != me && !p.zombie)
        throw Error(fmt::format("the image holds pid {} running as uid {}; only root can restore "
                                "processes of another user",
                                p.pid, u));
}

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
  char abs[PATH_MAX];
  if (!realpath(req.dir.c_str(), abs))
    throwErrno(fmt::format("image {}", req.dir));
  std::string dir = abs;
  image::Image img = image::readImage(dir);
  image::verifyImage(dir, img);
  if (img.processes.empty()) throw Error(fmt::format("image {} holds no process", dir));
  checkPrivilege(img);
  auto t1 = Clock::now();

  checkPidsFree(img);
  ScratchLayout scratch = chooseScratch(img);
  TreeBuilder tree(img, scratch);
  tree.build();
  FdRestoreContext files{img, dir, {}, {}, {}};
  for (auto& p : tree.processes()) {
    if (p.img->zombie) continue;
    restoreMemory(p, scratch, img, dir);
    restoreFds(p, scratch, files);
    restoreProcessState(p, scratch);
    restoreThreads(p, scratch, tree);
  }
  for (auto& p : tree.processes())
    for (auto& t : p.threads) t.detach();
  tree.disarm();

  RestoreSummary sum;
  sum.root = img.processes.front().pid;
  sum.processes = img.processes.size();
  sum.verifyMs = ms(t1 - t0);
  sum.restoreMs = ms(Clock::now() - t1);
  return sum;
}

}  // namespace ckpt
