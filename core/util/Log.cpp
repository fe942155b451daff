// Logger implementation (stderr plus an optional file).
#include "core/util/Log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

namespace ckpt::log {
namespace {
std::mutex g_mutex;
Level g_level = Level::Warn;
std::FILE* g_file = nullptr;
const char* name(Level l) {
  switch (l) {
    case Level::Error:
      return "error";
    case Level::Warn:
      return "warning";
    case Level::Info:
      return "info";
    case Level::Debug:
      return "debug";
  }
  return "?";
}
}  // namespace

void setLevel(Level level) {
  g_level = level;
}
Level level() {
  return g_level;
}

void setFile(const std::string& path) {
  std::lock_guard lock(g_mutex);
  if (g_file) std::fclose(g_file);
  g_file = nullptr;
  if (path.empty()) return;
  // The log sits in the image: owner-only like the rest of it.
  // Appending: two processes may log to one file (restore --lazy's page
  // server and its watchdog), and neither may write over the other.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd >= 0 && !(g_file = ::fdopen(fd, "w"))) ::close(fd);
}

void write(Level l, std::string_view msg) {
  std::lock_guard lock(g_mutex);
  if (l <= g_level) std::fprintf(stderr, "ckpt: %s: %.*s\n", name(l), int(msg.size()), msg.data());
  if (g_file) {
    std::fprintf(g_file, "%s: %.*s\n", name(l), int(msg.size()), msg.data());
    std::fflush(g_file);
  }
}

}  // namespace ckpt::log
