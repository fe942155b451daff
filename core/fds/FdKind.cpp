// The parts shared by every kind: sharing detection and the dispatch.
#include "core/fds/FdKind.hpp"

#include <fcntl.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt {

int FdProbe::accessMode() const {
  return int(info.flags) & O_ACCMODE;
}

const FdKind& fdKindFor(image::FileKind kind) {
  for (const FdKind* k : fdKinds())
    for (auto kk : k->kinds)
      if (kk == kind) return *k;
  throw Error(fmt::format("no restorer for file kind {}", int(kind)));
}

namespace {
bool sameDescription(int a, int b) {
  pid_t self = getpid();
  return syscall(SYS_kcmp, self, self, KCMP_FILE, a, b) == 0;
}

std::string kindOfLink(const FdProbe& p) {
  if (S_ISSOCK(p.st.st_mode)) return "socket";
  if (p.link.rfind("anon_inode:", 0) == 0) return p.link.substr(11);
  if (S_ISCHR(p.st.st_mode)) return "character device " + p.link;
  if (S_ISBLK(p.st.st_mode)) return "block device " + p.link;
  return p.link;
}
}  // namespace

image::FdEntry dumpFd(FdProbe& probe, FdDumpContext& ctx) {
  image::FdEntry entry;
  entry.fd = probe.fd;
  entry.cloexec = (probe.info.flags & O_CLOEXEC) != 0;
  for (auto& [id, fd] : ctx.seen) {
    if (sameDescription(fd.get(), probe.local.get())) {
      entry.file = id;
      return entry;
    }
  }
  for (const FdKind* kind : fdKinds()) {
    if (!kind->matches(probe)) continue;
    image::FileDesc desc;
    desc.id = int(ctx.image.files.size());
    desc.flags = int(probe.info.flags & ~unsigned(O_CLOEXEC));
    desc.pos = probe.info.pos;
    desc.dev = probe.st.st_dev;
    desc.ino = probe.st.st_ino;
    desc.mode = probe.st.st_mode;
    desc.rdev = probe.st.st_rdev;
    desc.size = probe.st.st_size;
    desc.mtime_ns = int64_t(probe.st.st_mtim.tv_sec) * 1000000000 + probe.st.st_mtim.tv_nsec;
    kind->dump(probe, desc, ctx);
    entry.file = desc.id;
    ctx.image.files.push_back(std::move(desc));
    ctx.seen.emplace_back(entry.file, std::move(probe.local));
    return entry;
  }
  throw Error(fmt::format("pid {} fd {} ({}): this kind of file cannot be checkpointed yet",
                          probe.pid, probe.fd, kindOfLink(probe)));
}

std::string readImageFile(const std::string& path, size_t size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwErrno("opening " + path);
  std::string data(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd.get(), data.data() + done, size - done);
    if (n < 0) throwErrno("reading " + path);
    if (n == 0) throw Error(fmt::format("{}: truncated (expected {} bytes)", path, size));
    done += size_t(n);
  }
  return data;
}

UniqueFd reopenAt(const image::FileDesc& desc, int extraFlags) {
  int flags = (desc.flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)) | O_CLOEXEC | extraFlags;
  UniqueFd fd(::open(desc.path.c_str(), flags));
  if (!fd) throwErrno(fmt::format("reopening {}", desc.path));
  if (desc.pos != 0 && lseek(fd.get(), desc.pos, SEEK_SET) < 0)
    throwErrno(fmt::format("seeking {} to offset {}", desc.path, desc.pos));
  return fd;
}

}  // namespace ckpt
