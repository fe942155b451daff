// Regular files and directories that still have a name: reopened by path
// with the same flags at the same offset.
#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

bool matches(const FdProbe& p) {
  if (!S_ISREG(p.st.st_mode) && !S_ISDIR(p.st.st_mode)) return false;
  return p.st.st_nlink > 0 && !p.link.empty() && p.link[0] == '/';
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = S_ISDIR(p.st.st_mode) ? image::FileKind::Directory : image::FileKind::Regular;
  d.path = p.link;
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  struct stat st {};
  if (stat(d.path.c_str(), &st) != 0)
    throwErrno(fmt::format("file {} (open at dump) is gone", d.path));
  if (st.st_ino != d.ino || st.st_dev != d.dev)
    throw Error(fmt::format(
        "file {} was replaced since the dump (inode {} then, {} now); restore it or move it back",
        d.path, d.ino, st.st_ino));
  return reopenAt(d);
}

}  // namespace

extern const FdKind kRegularFileKind{"regular file or directory",
                                     matches,
                                     dump,
                                     restore,
                                     {image::FileKind::Regular, image::FileKind::Directory},
                                     nullptr};

}  // namespace ckpt
