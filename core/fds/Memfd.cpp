// memfds held as file descriptors: their content is a shared memory object of
// the image (core/mem/SharedObjects), the same one a mapping of the memfd
// uses, so an fd and a mapping of one memfd stay one memfd after restore.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/mem/SharedObjects.hpp"
#include "core/util/Error.hpp"

namespace ckpt {
namespace {

constexpr std::string_view kPrefix = "/memfd:";
constexpr std::string_view kDeleted = " (deleted)";

bool matches(const FdProbe& p) {
  return S_ISREG(p.st.st_mode) && p.st.st_nlink == 0 && p.link.rfind(kPrefix, 0) == 0;
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  d.kind = image::FileKind::Memfd;
  d.path = p.link;
  if (d.path.ends_with(kDeleted)) d.path.resize(d.path.size() - kDeleted.size());
  int object = saveSharedObject(ctx.image, ctx.writer, p.local.get(), image::VmaKind::Memfd,
                                d.path.substr(1));
  d.state = {{"object", object}};
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  if (!ctx.objects) throw Error("memfd restore without memory objects");
  if (!d.state.is_object() || !d.state.contains("object") || !d.state["object"].is_number_integer())
    throw Error(fmt::format("manifest: memfd file {} has no memory object", d.id));
  int object = d.state["object"].get<int>();
  // A description of its own onto the same memfd, as each open was at dump.
  std::string self = fmt::format("/proc/self/fd/{}", ctx.objects->fd(object));
  image::FileDesc reopen = d;
  reopen.path = self;
  return reopenAt(reopen);
}

}  // namespace

extern const FdKind kMemfdKind{"memfd", matches, dump, restore, {image::FileKind::Memfd}, nullptr};

}  // namespace ckpt
