// epoll: every registration (target fd number, events, data). The kernel
// keys a registration by the target's file *and* the fd number it was added
// under, so the epoll is made in ckpt but filled from inside the process,
// with injected epoll_ctl calls on the restored fd numbers.
// What the kernel leaves no way to bring back exactly: epoll_ctl always adds
// EPOLLERR | EPOLLHUP, so a one-shot registration that already fired (its
// events reduced to the flags) comes back listening for errors and hang-ups;
// and an edge-triggered registration whose target is ready reports that edge
// once more, even if the program had taken it before the dump.
#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <string>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/ptrace/RemoteMemory.hpp"
#include "core/ptrace/RemoteSyscalls.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

// Deeper than the kernel lets epolls nest (EP_MAX_NESTS is 4): a broken image.
constexpr int kMaxDepth = 8;

bool matches(const FdProbe& p) {
  return p.link == "anon_inode:[eventpoll]";
}

uint64_t numberOf(const FdProbe& p, const std::map<std::string, std::string>& rec,
                  const std::string& line, const char* key, int base) {
  auto it = rec.find(key);
  if (it != rec.end()) {
    try {
      size_t used = 0;
      uint64_t v = std::stoull(it->second, &used, base);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw Error(fmt::format("pid {} fd {} (eventpoll): cannot read '{}' in the fdinfo line '{}'",
                          p.pid, p.fd, key, line));
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::Epoll;
  nlohmann::json targets = nlohmann::json::array();
  std::map<int, uint32_t> seenTfd;  // tfd -> registrations under that number so far
  auto it = p.info.records.find("tfd");
  if (it != p.info.records.end()) {
    for (const std::string& line : it->second) {
      auto rec = proc::parseFdinfoRecord(line);
      int tfd = int(numberOf(p, rec, line, "tfd", 10));
      uint32_t events = uint32_t(numberOf(p, rec, line, "events", 16));
      uint64_t data = numberOf(p, rec, line, "data", 16);
      // Restore adds the registration again under the number tfd, so the
      // process must still hold that very file there: not the case when
      // the fd was closed (or reused) after registering while the file
      // stays open elsewhere, which keeps the registration alive.
      kcmp_epoll_slot slot{uint32_t(p.fd), uint32_t(tfd), seenTfd[tfd]++};
      long same = syscall(SYS_kcmp, p.pid, p.pid, KCMP_EPOLL_TFD, tfd, &slot);
      if (same < 0 && errno != EBADF)
        throwErrno(
            fmt::format("pid {} fd {} (eventpoll): checking its registration of fd {} with "
                        "kcmp(KCMP_EPOLL_TFD) (needs CONFIG_CHECKPOINT_RESTORE)",
                        p.pid, p.fd, tfd));
      if (same != 0) {
        std::string now = same < 0 ? "closed" : "another file";
        throw Error(fmt::format(
            "pid {} fd {} (eventpoll): its registration of fd {} (events {:#x}, data {:#x}) "
            "outlived that fd, which is now {}; ckpt restores registrations by fd number, so it "
            "cannot restore this one (the program should EPOLL_CTL_DEL a target before closing it)",
            p.pid, p.fd, tfd, events, data, now));
      }
      targets.push_back({{"tfd", tfd}, {"events", events}, {"data", data}});
    }
  }
  // The registrations are made once, from the process and fd that showed them.
  d.state = {{"pid", p.pid}, {"fd", p.fd}, {"targets", std::move(targets)}};
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  UniqueFd fd(epoll_create1(EPOLL_CLOEXEC));
  if (!fd) throwErrno("creating an epoll instance");
  if ((d.flags & O_NONBLOCK) && fcntl(fd.get(), F_SETFL, O_NONBLOCK) != 0)
    throwErrno("setting O_NONBLOCK on a restored epoll");
  return fd;
}

bool ownedBy(const image::FileDesc& d, pid_t pid) {
  return d.state.at("pid").get<pid_t>() == pid;
}

// The description behind fd `fd` of the process, or null.
const image::FileDesc* fileAt(const FdInstallContext& ctx, int fd) {
  for (const auto& e : ctx.fds)
    if (e.fd == fd && e.file >= 0 && size_t(e.file) < ctx.image.files.size())
      return &ctx.image.files[size_t(e.file)];
  return nullptr;
}

// struct epoll_event as the x86-64 kernel takes it.
struct [[gnu::packed]] KernelEpollEvent {
  uint32_t events;
  uint64_t data;
};

// Adds the registrations of the epoll at `epfd`. A target that is itself an
// epoll gets its own registrations first: it goes in complete, with its
// readiness and nesting as at dump (the kernel would also pass readiness up
// later, but this way the outer epoll never sees a half-made inner one).
// Registering twice (through a nested epoll, then through its own fd) gives
// EEXIST, which means done.
void addRegistrations(const image::FileDesc& d, int epfd, FdInstallContext& ctx, int depth) {
  if (depth > kMaxDepth)
    throw Error(fmt::format("manifest: pid {}: epolls nest deeper than {} at fd {}", ctx.pid,
                            kMaxDepth, epfd));
  RemoteMemory mem(ctx.pid);
  for (const auto& t : d.state.at("targets")) {
    int tfd = t.at("tfd").get<int>();
    const image::FileDesc* target = fileAt(ctx, tfd);
    if (!target)
      throw Error(
          fmt::format("manifest: pid {} fd {}: epoll registration of fd {}, which the "
                      "process does not have",
                      ctx.pid, epfd, tfd));
    if (target->kind == image::FileKind::Epoll && ownedBy(*target, ctx.pid))
      addRegistrations(*target, tfd, ctx, depth + 1);
    uint32_t events = t.at("events").get<uint32_t>();
    KernelEpollEvent ev{events, t.at("data").get<uint64_t>()};
    mem.writeValue(ctx.scratch, ev);
    long r = ctx.calls.call(SYS_epoll_ctl, uint64_t(epfd), EPOLL_CTL_ADD, uint64_t(tfd),
                            ctx.scratch.addr());
    if (r == -EEXIST) continue;
    if (r < 0)
      throw SysError(fmt::format("pid {} fd {}: registering fd {} in the restored epoll (events "
                                 "{:#x})",
                                 ctx.pid, epfd, tfd, events),
                     int(-r));
  }
}

void afterInstall(const image::FileDesc& d, int fd, FdInstallContext& ctx) {
  // The fd numbers in the registrations are those of the process that
  // showed them at dump; other processes (and other fds) sharing this epoll
  // share its registrations too.
  if (!ownedBy(d, ctx.pid) || d.state.at("fd").get<int>() != fd) return;
  addRegistrations(d, fd, ctx, 0);
}

}  // namespace

extern const FdKind kEpollKind{"epoll",     matches, dump, restore, {image::FileKind::Epoll},
                               afterInstall};

}  // namespace ckpt
