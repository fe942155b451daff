// Regular files deleted while open: their content is saved in the image and
// brought back as a new file that is unlinked again right after it is opened.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

constexpr std::string_view kDeletedSuffix = " (deleted)";

bool matches(const FdProbe& p) {
  return S_ISREG(p.st.st_mode) && p.st.st_nlink == 0;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  d.kind = image::FileKind::Deleted;
  d.path = p.link;
  if (d.path.size() > kDeletedSuffix.size() && d.path.ends_with(kDeletedSuffix))
    d.path.resize(d.path.size() - kDeletedSuffix.size());
  std::vector<char> content(size_t(p.st.st_size));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = pread(p.local.get(), content.data() + done, content.size() - done, off_t(done));
    if (n < 0)
      throwErrno(fmt::format("pid {} fd {}: reading deleted file {}", p.pid, p.fd, d.path));
    if (n == 0) break;
    done += size_t(n);
  }
  content.resize(done);
  d.size = int64_t(done);
  d.content_file = fmt::format("file-{}.data", d.id);
  d.content_xxh3 = ctx.writer.writeBlob(d.content_file, content.data(), content.size());
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  std::string content = readImageFile(ctx.imageDir + "/" + d.content_file, size_t(d.size));
  // Recreate it under its old name when that is free, so /proc shows the same
  // "path (deleted)"; otherwise beside it under a unique name.
  std::string path = d.path;
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, d.mode & 07777));
  for (int i = 0; !fd && errno == EEXIST && i < 100; ++i) {
    path = fmt::format("{}.ckpt-restore-{}-{}", d.path, getpid(), i);
    fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, d.mode & 07777));
  }
  if (!fd) throwErrno(fmt::format("recreating deleted file {}", d.path));
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n <= 0) {
      unlink(path.c_str());
      throwErrno(fmt::format("writing the content of deleted file {}", d.path));
    }
    done += size_t(n);
  }
  image::FileDesc reopen = d;
  reopen.path = path;
  UniqueFd out;
  try {
    out = reopenAt(reopen);
  } catch (...) {
    unlink(path.c_str());
    throw;
  }
  unlink(path.c_str());
  return out;
}

}  // namespace

extern const FdKind kDeletedFileKind{
    "deleted file", matches, dump, restore, {image::FileKind::Deleted}, nullptr};

}  // namespace ckpt
