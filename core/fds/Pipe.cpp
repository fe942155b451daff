// Pipes and FIFOs: the bytes in flight are copied out with tee() (which does
// not consume them) and written into a new pipe of the same capacity.
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

constexpr int kStatusFlags = O_NONBLOCK | O_APPEND | O_ASYNC | O_DIRECT | O_NOATIME;

bool matches(const FdProbe& p) {
  return S_ISFIFO(p.st.st_mode);
}

bool isAnonymousPipe(const FdProbe& p) {
  return p.link.rfind("pipe:[", 0) == 0;
}

std::vector<char> peekPipe(FdProbe& p, int capacity) {
  // A read end onto the same pipe, without disturbing the program's descriptions.
  UniqueFd reader;
  int src = p.local.get();
  if (p.accessMode() != O_RDONLY) {
    std::string self = fmt::format("/proc/self/fd/{}", p.local.get());
    reader.reset(::open(self.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
    if (!reader)
      throwErrno(fmt::format("pid {} fd {}: opening a read end of {}", p.pid, p.fd, p.link));
    src = reader.get();
  }
  int tmp[2];
  if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) != 0) throwErrno("creating a pipe");
  UniqueFd tr(tmp[0]), tw(tmp[1]);
  if (fcntl(tw.get(), F_SETPIPE_SZ, capacity) < 0)
    throwErrno(fmt::format("sizing a pipe to {} bytes", capacity));
  ssize_t n = tee(src, tw.get(), size_t(capacity), SPLICE_F_NONBLOCK);
  if (n < 0) {
    if (errno == EAGAIN) return {};
    throwErrno(fmt::format("pid {} fd {}: copying the data in {}", p.pid, p.fd, p.link));
  }
  std::vector<char> data(static_cast<size_t>(n));
  size_t done = 0;
  while (done < data.size()) {
    ssize_t r = ::read(tr.get(), data.data() + done, data.size() - done);
    if (r <= 0) throwErrno("reading copied pipe data");
    done += size_t(r);
  }
  return data;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  bool anon = isAnonymousPipe(p);
  d.kind = anon ? image::FileKind::Pipe : image::FileKind::Fifo;
  d.path = anon ? std::string() : p.link;
  auto& pipes = ctx.image.pipes;
  auto it = std::find_if(pipes.begin(), pipes.end(),
                         [&](const image::Pipe& x) { return x.ino == uint64_t(p.st.st_ino); });
  if (it != pipes.end()) {
    d.pipe = it->id;
    return;
  }
  image::Pipe pipe;
  pipe.id = int(pipes.size());
  pipe.ino = p.st.st_ino;
  pipe.capacity = fcntl(p.local.get(), F_GETPIPE_SZ);
  if (pipe.capacity <= 0) throwErrno(fmt::format("pid {} fd {}: pipe capacity", p.pid, p.fd));
  std::vector<char> data = peekPipe(p, pipe.capacity);
  if (!data.empty()) {
    pipe.data_file = fmt::format("pipe-{}.data", pipe.id);
    pipe.data_size = data.size();
    pipe.data_xxh3 = ctx.writer.writeBlob(pipe.data_file, data.data(), data.size());
  }
  d.pipe = pipe.id;
  pipes.push_back(std::move(pipe));
}

void fill(int writeFd, const image::Pipe& pipe, const std::string& imageDir) {
  if (fcntl(writeFd, F_SETPIPE_SZ, pipe.capacity) < 0)
    throwErrno(fmt::format("sizing a restored pipe to {} bytes", pipe.capacity));
  if (pipe.data_size == 0) return;
  std::string data = readImageFile(imageDir + "/" + pipe.data_file, pipe.data_size);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(writeFd, data.data() + done, data.size() - done);
    if (n <= 0) throwErrno("refilling a restored pipe");
    done += size_t(n);
  }
}

const image::Pipe& pipeOf(const image::FileDesc& d, const image::Image& img) {
  if (d.pipe < 0 || size_t(d.pipe) >= img.pipes.size())
    throw Error(fmt::format("manifest: file {} names pipe {} which does not exist", d.id, d.pipe));
  return img.pipes[size_t(d.pipe)];
}

void setStatusFlags(int fd, int flags) {
  if (fcntl(fd, F_SETFL, flags & kStatusFlags) != 0) throwErrno("setting pipe flags");
}

UniqueFd restoreAnonymous(const image::FileDesc& d, FdRestoreContext& ctx) {
  const image::Pipe& pipe = pipeOf(d, ctx.image);
  auto it = ctx.pipes.find(pipe.id);
  bool fresh = it == ctx.pipes.end();
  if (fresh) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throwErrno("creating a pipe");
    UniqueFd r(fds[0]), w(fds[1]);
    fill(w.get(), pipe, ctx.imageDir);
    it = ctx.pipes.emplace(pipe.id, std::make_pair(std::move(r), std::move(w))).first;
  }
  int end = (d.flags & O_ACCMODE) == O_RDONLY ? it->second.first.get() : it->second.second.get();
  // Each description is a distinct open of the pipe, as at dump.
  std::string self = fmt::format("/proc/self/fd/{}", end);
  UniqueFd fd(::open(self.c_str(), (d.flags & O_ACCMODE) | O_CLOEXEC));
  if (!fd) throwErrno("reopening a restored pipe");
  setStatusFlags(fd.get(), d.flags);
  return fd;
}

UniqueFd restoreFifo(const image::FileDesc& d, FdRestoreContext& ctx) {
  const image::Pipe& pipe = pipeOf(d, ctx.image);
  struct stat st {};
  if (stat(d.path.c_str(), &st) != 0 || !S_ISFIFO(st.st_mode))
    throw Error(fmt::format("FIFO {} (open at dump) is gone; recreate it with mkfifo", d.path));
  if (ctx.pipes.find(pipe.id) == ctx.pipes.end()) {
    // An O_RDWR open never blocks and keeps the FIFO alive while its real
    // readers and writers are opened; it is closed when the restore is done.
    UniqueFd keep(::open(d.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!keep) throwErrno("opening FIFO " + d.path);
    fill(keep.get(), pipe, ctx.imageDir);
    ctx.pipes.emplace(pipe.id, std::make_pair(std::move(keep), UniqueFd()));
  }
  UniqueFd fd(::open(d.path.c_str(), (d.flags & O_ACCMODE) | O_NONBLOCK | O_CLOEXEC));
  if (!fd) throwErrno("reopening FIFO " + d.path);
  setStatusFlags(fd.get(), d.flags);
  return fd;
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  return d.kind == image::FileKind::Fifo ? restoreFifo(d, ctx) : restoreAnonymous(d, ctx);
}

}  // namespace

extern const FdKind kPipeKind{
    "pipe or FIFO", matches, dump, restore, {image::FileKind::Pipe, image::FileKind::Fifo},
    nullptr};

}  // namespace ckpt
