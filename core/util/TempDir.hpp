// A private directory (0700) removed with everything in it when the object
// goes: where a streamed image is kept while it is written or checked.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {

class TempDir {
 public:
  // Under $TMPDIR, else /var/tmp (images can be larger than a tmpfs /tmp).
  explicit TempDir(const std::string& prefix) {
    const char* env = getenv("TMPDIR");
    std::string tmpl = std::string(env && *env ? env : "/var/tmp") + "/" + prefix + "XXXXXX";
    if (!mkdtemp(tmpl.data())) throwErrno("creating a private directory " + tmpl);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) log::warn("cannot remove {}: {}", path_, ec.message());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace ckpt
