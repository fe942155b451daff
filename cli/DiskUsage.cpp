#include "cli/DiskUsage.hpp"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

#include "core/util/Error.hpp"

namespace ckpt::cli {

DiskUsage diskUsage(const std::string& dir) {
  DiskUsage u;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    struct stat st;
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    ++u.files;
    u.bytes += static_cast<uint64_t>(st.st_size);
    u.disk += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  if (ec) throw SysError("list " + dir, ec.value());
  return u;
}

}  // namespace ckpt::cli
