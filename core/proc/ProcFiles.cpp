// Readers of /proc files and links.
#include "core/proc/ProcFiles.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::proc {

std::string readProcFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throwErrno("open " + path);
  std::string out;
  size_t used = 0;
  for (;;) {
    if (out.size() - used < 4096) out.resize(out.size() < 4096 ? 8192 : out.size() * 2);
    ssize_t n = ::read(fd.get(), out.data() + used, out.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("read " + path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  out.resize(used);
  return out;
}

std::string readLink(const std::string& path) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlink(path.c_str(), buf.data(), buf.size());
    if (n < 0) throwErrno("readlink " + path);
    // A result that fills the buffer may have been cut: try again with more room.
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      return buf;
    }
    buf.resize(buf.size() * 2);
  }
}

}  // namespace ckpt::proc
