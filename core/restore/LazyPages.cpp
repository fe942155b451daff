// The lazy page server: userfaultfd registration by injected calls, fault
// answers first, background copies in between.
#include "core/restore/LazyPages.hpp"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>

#include <fmt/format.h>

#include "core/image/Checksum.hpp"
#include "core/image/PageHashes.hpp"
#include "core/restore/LazyWatchdog.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"

namespace ckpt {

namespace {

constexpr uint64_t kPage = image::kPageSize;
// Background copies and faults in huge page areas: one huge page at a time.
constexpr uint64_t kRun = 2ull << 20;
// A fault elsewhere brings its neighbourhood: programs touch memory in order.
constexpr uint64_t kFaultWindow = 64ull << 10;

#ifndef MADV_COLLAPSE
constexpr int MADV_COLLAPSE = 25;  // Linux 6.1; glibc 2.36 does not name it yet
#endif

constexpr uint64_t kFeatures = UFFD_FEATURE_EVENT_FORK | UFFD_FEATURE_EVENT_REMAP |
                               UFFD_FEATURE_EVENT_REMOVE | UFFD_FEATURE_EVENT_UNMAP;

bool hasFlag(const image::Vma& v, const char* f) {
  return std::find(v.vmflags.begin(), v.vmflags.end(), f) != v.vmflags.end();
}

uint64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

}  // namespace

// One address space being served: a restored process, or a child one of
// them forked while pages were still coming (pid 0: the kernel does not say).
struct LazyPages::Space {
  pid_t pid = 0;
  UniqueFd uffd;
  UniqueFd pidfd;
  PendingPages pending;
  std::deque<uint64_t> faults;                      // read, not yet answered
  std::vector<std::pair<uint64_t, uint64_t>> huge;  // areas that had huge pages
  bool gone = false;  // its mm is gone (exit, exec): nothing more to do
};

LazyPages::LazyPages(image::ImageChain& chain)
    : chain_(chain), buf_(static_cast<char*>(std::aligned_alloc(kRun, kRun)), std::free) {
  if (!buf_) throw Error("restore --lazy: out of memory for the page buffer");
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0)
    affinity_.assign(reinterpret_cast<char*>(&set), reinterpret_cast<char*>(&set) + sizeof set);
}

LazyPages::~LazyPages() {
  stopThread();
}

bool LazyPages::serves(const image::Vma& v) {
  if (v.kind != image::VmaKind::Anonymous || v.shared) return false;
  return std::any_of(v.runs.begin(), v.runs.end(), [](const auto& r) { return !r.zero; });
}

void LazyPages::adopt(RestoredProcess& p) {
  std::vector<const image::Vma*> areas;
  for (const auto& v : p.img->vmas)
    if (serves(v)) areas.push_back(&v);
  if (areas.empty()) return;
  auto space = std::make_unique<Space>();
  space->pid = p.pid;
  // Made inside the process: a userfaultfd serves the mm of its creator.
  long remote = p.main->call(SYS_userfaultfd, uint64_t(O_CLOEXEC | O_NONBLOCK));
  if (remote < 0)
    throw SysError(fmt::format("pid {}: userfaultfd() for restore --lazy (it needs root, or "
                               "vm.unprivileged_userfaultfd=1, to see the kernel's own "
                               "accesses); restore without --lazy",
                               p.pid),
                   int(-remote));
  space->pidfd.reset(int(syscall(SYS_pidfd_open, p.pid, 0)));
  if (space->pidfd) space->uffd.reset(int(syscall(SYS_pidfd_getfd, space->pidfd.get(), remote, 0)));
  int err = errno;
  p.main->call(SYS_close, uint64_t(remote));
  if (!space->uffd)
    throw SysError(fmt::format("pid {}: taking its userfaultfd (pidfd_getfd)", p.pid), err);
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = kFeatures;
  if (ioctl(space->uffd.get(), UFFDIO_API, &api) != 0)
    throwErrno(fmt::format(
        "pid {}: userfaultfd events for fork, mremap, madvise and munmap (restore --lazy needs "
        "CAP_SYS_PTRACE to follow forks); restore without --lazy",
        p.pid));
  const uint64_t* hashes = nullptr;
  if (!p.img->page_hashes_file.empty()) hashes = hashes_.emplace_back(chain_.dir(0), *p.img).data();
  // Where each served run's hashes start: they cover every data page in order.
  std::map<uint64_t, const uint64_t*> hashAt;
  for (const auto& v : p.img->vmas)
    for (const auto& r : v.runs)
      if (!r.zero) {
        hashAt[r.addr] = hashes;
        if (hashes) hashes += r.npages;
      }
  for (const image::Vma* v : areas) {
    uffdio_register reg{};
    reg.range.start = v->start;
    reg.range.len = v->end - v->start;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (ioctl(space->uffd.get(), UFFDIO_REGISTER, &reg) != 0)
      throwErrno(fmt::format("pid {}: registering {:#x}-{:#x} with its userfaultfd", p.pid,
                             v->start, v->end));
    const uint64_t need = (1ull << _UFFDIO_COPY) | (1ull << _UFFDIO_ZEROPAGE);
    if ((reg.ioctls & need) != need)
      throw Error(
          fmt::format("pid {}: this kernel cannot copy pages into {:#x}-{:#x}; restore "
                      "without --lazy",
                      p.pid, v->start, v->end));
    for (const auto& r : v->runs)
      if (!r.zero)
        space->pending.add(
            {r.addr, r.npages * kPage, &chain_.pages(r.image, p.pid), r.offset, hashAt[r.addr]});
    if (hasFlag(*v, "hg") || v->anon_huge) space->huge.emplace_back(v->start, v->end);
  }
  {
    std::lock_guard lock(mutex_);
    spaces_.push_back(std::move(space));
  }
  if (!thread_.joinable()) startThread();
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0) {
    // The thread polls again on its own at the next fault.
  }
}

void LazyPages::startThread() {
  wake_.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_) throwErrno("restore --lazy: eventfd");
  stop_ = false;
  thread_ = std::thread([this] {
    // ckpt is pinned next to the tracees; faults come from them and from
    // ckpt's own calls, so answer from anywhere.
    if (!affinity_.empty())
      sched_setaffinity(0, affinity_.size(), reinterpret_cast<cpu_set_t*>(affinity_.data()));
    try {
      serve(false);
    } catch (const std::exception& e) {
      // Unanswered faults block the restore's own calls; killing ckpt here
      // lets the kernel drop the stubs with it (they are not running yet).
      log::error("restore --lazy: {}", e.what());
      std::abort();
    }
  });
}

void LazyPages::stopThread() {
  if (!thread_.joinable()) return;
  stop_ = true;
  uint64_t one = 1;
  if (write(wake_.get(), &one, sizeof one) < 0) {
    // The thread sees stop_ at its next wakeup anyway.
  }
  thread_.join();
}

void LazyPages::serve(bool background) {
  for (;;) {
    std::vector<pollfd> fds;
    {
      std::unique_lock lock(mutex_, std::defer_lock);
      if (!background) lock.lock();
      retrySoon_ = false;
      // New spaces may be appended (forks) while we go: index, not iterator.
      for (size_t i = 0; i < spaces_.size(); i++) {
        Space& s = *spaces_[i];
        if (s.gone) continue;
        drain(s);
        answerFaults(s);
      }
      if (!background && stop_) return;
      if (background) {
        if (allIn()) return;
        if (backgroundStep()) continue;
      }
      for (const auto& s : spaces_)
        if (!s->gone) fds.push_back({s->uffd.get(), POLLIN, 0});
    }
    if (wake_) fds.push_back({wake_.get(), POLLIN, 0});
    // A copy refused while the mm changes (EAGAIN) is retried once the
    // event that says how is readable; it may lag a little behind.
    int r = poll(fds.data(), fds.size(), retrySoon_ ? 1 : -1);
    if (r < 0 && errno != EINTR) throwErrno("restore --lazy: poll");
    if (wake_) {
      uint64_t n;
      if (read(wake_.get(), &n, sizeof n) < 0) {
        // Nothing to clear.
      }
    }
  }
}

void LazyPages::drain(Space& s) {
  uffd_msg msgs[32];
  for (;;) {
    ssize_t n = read(s.uffd.get(), msgs, sizeof msgs);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) return;
      throwErrno(fmt::format("restore --lazy: reading faults of pid {}", s.pid));
    }
    if (n == 0) return;
    // In order: an event changes what later faults refer to. Faults wait in
    // the queue, so a fork seen after them still copies their pages.
    for (ssize_t i = 0; i < n / ssize_t(sizeof(uffd_msg)); i++) handleEvent(s, msgs[i]);
  }
}

void LazyPages::handleEvent(Space& s, const uffd_msg& m) {
  switch (m.event) {
    case UFFD_EVENT_PAGEFAULT:
      s.faults.push_back(m.arg.pagefault.address & ~(kPage - 1));
      break;
    case UFFD_EVENT_FORK: {
      // The child's mm was copied while copies into the parent were held
      // back: it misses exactly what the parent still misses.
      auto child = std::make_unique<Space>();
      child->uffd.reset(int(m.arg.fork.ufd));
      child->pending = s.pending;
      child->huge = s.huge;
      if (watchdog_) tellWatchdog(watchdog_.get(), kWatchdogKeep, child->uffd.get());
      log::debug("restore --lazy: pid {} forked while {} bytes were missing", s.pid,
                 s.pending.bytes());
      spaces_.push_back(std::move(child));
      break;
    }
    case UFFD_EVENT_REMAP:
      s.pending.move(m.arg.remap.from, m.arg.remap.to, m.arg.remap.len);
      break;
    case UFFD_EVENT_REMOVE:
    case UFFD_EVENT_UNMAP:
      // Zapped or gone: the image's bytes must not come back there.
      s.pending.erase(m.arg.remove.start, m.arg.remove.end);
      break;
    default:
      log::warn("restore --lazy: pid {}: unexpected userfaultfd event {}", s.pid, m.event);
  }
}

void LazyPages::answerFaults(Space& s) {
  while (!s.faults.empty() && !s.gone) {
    const uint64_t addr = s.faults.front();
    bool huge = std::any_of(s.huge.begin(), s.huge.end(),
                            [&](auto& h) { return h.first <= addr && addr < h.second; });
    const uint64_t window = huge ? kRun : kFaultWindow;
    const uint64_t lo = addr & ~(window - 1);
    bool done;
    if (auto piece = s.pending.take(addr, lo, lo + window))
      done = copyPiece(s, *piece);
    else
      done = zeroPage(s, addr);
    if (!done) return;  // an event first; the fault stays queued
    s.faults.pop_front();
  }
}

namespace {

void wake(int uffd, uint64_t addr, uint64_t len) {
  uffdio_range r{addr, len};
  ioctl(uffd, UFFDIO_WAKE, &r);
}

}  // namespace

bool LazyPages::copyPiece(Space& s, const PendingPages::Piece& p) {
  p.src->read(p.offset, p.len, buf_.get(), nullptr);
  // Restore did not read these pages up front: check them now, before the
  // program can see them. A mismatch ends the server, and the tree with it.
  if (p.hashes)
    for (uint64_t at = 0; at < p.len; at += kPage)
      if (image::xxh3(buf_.get() + at, kPage) != p.hashes[at / kPage])
        throw Error(
            fmt::format("pid {}: page at {:#x} ({} at offset {}): checksum mismatch: the "
                        "image is corrupt",
                        s.pid, p.addr + at, p.src->path(), p.offset + at));
  uint64_t done = 0;
  while (done < p.len) {
    uffdio_copy c{};
    c.dst = p.addr + done;
    c.src = reinterpret_cast<uint64_t>(buf_.get() + done);
    c.len = p.len - done;
    int err = ioctl(s.uffd.get(), UFFDIO_COPY, &c) == 0 ? 0 : errno;
    if (c.copy > 0) {
      done += uint64_t(c.copy);
      copied_ += uint64_t(c.copy);
      continue;
    }
    if (err == 0) break;
    if (c.copy < 0) err = int(-c.copy);
    switch (err) {
      case EAGAIN:
        // The mm is changing (fork, mremap, madvise, munmap): the event says
        // how; what is left waits for it.
        s.pending.add({p.addr + done, p.len - done, p.src, p.offset + done});
        retrySoon_ = true;
        return false;
      case EEXIST:
        // Already there (raced with a fault answered as zero): keep it.
        wake(s.uffd.get(), p.addr + done, kPage);
        done += kPage;
        break;
      case ENOENT:
        // Unmapped meanwhile; the event that says so is on its way.
        wake(s.uffd.get(), p.addr + done, p.len - done);
        return true;
      case ESRCH:
        s.gone = true;  // exited or exec'd: its old memory is no one's
        s.pending = {};
        s.faults.clear();
        return true;
      default:
        throw SysError(fmt::format("restore --lazy: copying {} bytes to {:#x} of pid {}",
                                   p.len - done, p.addr + done, s.pid),
                       err);
    }
  }
  return true;
}

bool LazyPages::zeroPage(Space& s, uint64_t addr) {
  uffdio_zeropage z{};
  z.range = {addr, kPage};
  if (ioctl(s.uffd.get(), UFFDIO_ZEROPAGE, &z) == 0) return true;
  int err = z.zeropage < 0 ? int(-z.zeropage) : errno;
  switch (err) {
    case EAGAIN:
      retrySoon_ = true;
      return false;
    case EEXIST:
    case ENOENT:
      wake(s.uffd.get(), addr, kPage);
      return true;
    case ESRCH:
      s.gone = true;
      s.pending = {};
      s.faults.clear();
      return true;
    default:
      throw SysError(fmt::format("restore --lazy: zero page at {:#x} of pid {}", addr, s.pid), err);
  }
}

bool LazyPages::backgroundStep() {
  for (size_t tried = 0; tried < spaces_.size(); tried++) {
    Space& s = *spaces_[nextSpace_++ % spaces_.size()];
    if (s.gone || s.pending.empty()) continue;
    if (auto piece = s.pending.takeFirst(kRun)) {
      copyPiece(s, *piece);
      fault::point("lazy.copy");
      return !retrySoon_;
    }
  }
  return false;
}

bool LazyPages::allIn() const {
  return std::all_of(spaces_.begin(), spaces_.end(), [](const auto& s) {
    return s->gone || (s->pending.empty() && s->faults.empty());
  });
}

void LazyPages::collapseHuge() {
  // Copied pages are small ones; where the program had huge pages, have
  // the kernel put them together again (best effort: the program may have
  // changed its mappings meanwhile).
  for (const auto& s : spaces_) {
    if (!s->pidfd || s->gone) continue;
    for (auto [start, end] : s->huge) {
      iovec iov{reinterpret_cast<void*>(start), size_t(end - start)};
      if (syscall(SYS_process_madvise, s->pidfd.get(), &iov, 1, MADV_COLLAPSE, 0) < 0)
        log::debug("restore --lazy: pid {}: huge pages at {:#x}-{:#x} not collapsed: {}", s->pid,
                   start, end, strerror(errno));
    }
  }
}

void LazyPages::runServer(UniqueFd watchdog, UniqueFd report) {
  watchdog_ = std::move(watchdog);
  wake_.reset();
  int status = 0;
  try {
    serve(true);
    tellWatchdog(watchdog_.get(), kWatchdogDone);
    // Its references go when it exits (EOF here), ours now: areas left
    // missing are plain zero pages from then on, and huge pages can be put
    // together again (the kernel does not collapse areas a userfaultfd arms).
    char c;
    while (recv(watchdog_.get(), &c, 1, 0) != 0 && errno == EINTR) {
    }
    for (auto& s : spaces_) s->uffd.reset();
    collapseHuge();
    char line[64];
    int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)monotonicNs(),
                     (unsigned long long)copied_);
    if (write(report.get(), line, size_t(n)) < 0) {
      // ckpt returned already (restore --detach): nobody asks.
    }
  } catch (const std::exception& e) {
    // The watchdog sees us go without kWatchdogDone and kills the tree.
    log::error("restore --lazy: page server: {}", e.what());
    status = 1;
  }
  _exit(status);
}

LazyServer LazyPages::handOff(const std::vector<pid_t>& tree, bool quiet,
                              const std::string& logFile) {
  stopThread();
  LazyServer out;
  if (spaces_.empty()) return out;
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    throwErrno("restore --lazy: socketpair for the page server's watchdog");
  UniqueFd serverEnd(sv[0]), watchdogEnd(sv[1]);
  int rp[2];
  if (pipe2(rp, O_CLOEXEC) != 0) throwErrno("restore --lazy: pipe for the page server's report");
  UniqueFd reportRead(rp[0]), reportWrite(rp[1]);
  auto detachStdio = [&] {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    if (quiet) {
      dup2(null, STDERR_FILENO);
      log::setFile(logFile);
    }
    setsid();
    // ckpt is pinned next to the tracees while it restores: not its helpers.
    if (!affinity_.empty())
      sched_setaffinity(0, affinity_.size(), reinterpret_cast<cpu_set_t*>(affinity_.data()));
    for (int s : {SIGINT, SIGHUP, SIGQUIT, SIGPIPE}) signal(s, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
  };
  // The watchdog holds every userfaultfd it inherits; the server keeps it
  // up to date with those of children forked from now on.
  out.watchdog = fork();
  if (out.watchdog < 0) throwErrno("restore --lazy: fork of the page server's watchdog");
  if (out.watchdog == 0) {
    detachStdio();
    serverEnd.reset();
    reportRead.reset();
    reportWrite.reset();
    runLazyWatchdog(std::move(watchdogEnd), tree);
  }
  watchdogEnd.reset();
  out.server = fork();
  if (out.server < 0) {
    kill(out.watchdog, SIGKILL);
    throwErrno("restore --lazy: fork of the page server");
  }
  if (out.server == 0) {
    detachStdio();
    reportRead.reset();
    runServer(std::move(serverEnd), std::move(reportWrite));
  }
  // ckpt's references would keep faults waiting after the server is done.
  spaces_.clear();
  out.report = std::move(reportRead);
  return out;
}

}  // namespace ckpt
