// Lazy restore (`restore --lazy`): private anonymous memory is not filled
// before the tree runs. Each restored process's such areas are registered
// with a userfaultfd that ckpt holds; a page server answers first touches
// from the image and copies everything else in the background, in 2 MiB
// runs, until every page is in.
//
// While the tree is being restored the server is a thread of ckpt (the
// injected calls themselves touch lazy pages: thread-local rseq areas, tid
// words). Right before the tree runs it moves to a child process of ckpt,
// so that `restore --detach` can return. A watchdog process holds a second reference
// to every userfaultfd: if the server dies before every page is in, the
// kernel would otherwise fill what is missing with zeros and the program
// would go on with wrong memory; the watchdog SIGKILLs the tree instead.
#pragma once

#include <linux/userfaultfd.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/image/ImageChain.hpp"
#include "core/image/PageHashes.hpp"
#include "core/restore/PendingPages.hpp"
#include "core/restore/RestoredProcess.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt {

// What ckpt keeps of the page server once the tree runs.
struct LazyServer {
  pid_t server = -1;
  pid_t watchdog = -1;
  // Gets one line "<CLOCK_MONOTONIC ns> <bytes copied>\n" when every page is
  // in; EOF without it when the server failed.
  UniqueFd report;
};

class LazyPages {
 public:
  explicit LazyPages(image::ImageChain& chain);
  ~LazyPages();
  LazyPages(const LazyPages&) = delete;
  LazyPages& operator=(const LazyPages&) = delete;

  // Areas whose pages the server delivers: private anonymous ones with
  // saved data. Everything else keeps the eager path.
  static bool serves(const image::Vma& v);
  // Areas whose pages the server checks against the image's page hashes as
  // it copies them: restore need not read them up front.
  static bool checksLater(const image::Process& p, const image::Vma& v) {
    return serves(v) && !p.page_hashes_file.empty();
  }

  // After p's areas are mapped and before anything else touches them:
  // registers them with a userfaultfd and starts answering their faults.
  void adopt(RestoredProcess& p);

  // Once the tree is restored, right before it runs (its tracees only
  // stopped now): the server continues in a child of ckpt (and a
  // watchdog in another), with `tree` the restored pids the watchdog kills
  // should the server die. `quiet`: the children let go of ckpt's stdout and
  // stderr (restore --detach returns while they run), logging to `logFile`.
  LazyServer handOff(const std::vector<pid_t>& tree, bool quiet, const std::string& logFile);

 private:
  struct Space;

  void startThread();
  void stopThread();
  // Runs until every page is in (background) or until stopThread().
  void serve(bool background);
  void drain(Space& s);
  void handleEvent(Space& s, const uffd_msg& m);
  void answerFaults(Space& s);
  bool copyPiece(Space& s, const PendingPages::Piece& p);
  bool zeroPage(Space& s, uint64_t addr);
  bool backgroundStep();
  bool allIn() const;
  void collapseHuge();
  [[noreturn]] void runServer(UniqueFd watchdog, UniqueFd report);

  image::ImageChain& chain_;
  std::vector<std::unique_ptr<Space>> spaces_;
  size_t nextSpace_ = 0;  // round robin of background copies
  bool retrySoon_ = false;
  uint64_t copied_ = 0;
  std::unique_ptr<char, void (*)(void*)> buf_;
  UniqueFd wake_;      // eventfd: a space was added, or stop
  UniqueFd watchdog_;  // in the server: new userfaultfds go there too
  std::mutex mutex_;   // spaces_ between adopt() and the thread
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<char> affinity_;  // ckpt's CPU set before restore pinned it
  // Page hashes of each adopted process; pieces point into them.
  std::deque<image::MappedPageHashes> hashes_;
};

}  // namespace ckpt
