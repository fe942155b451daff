// The logger: the only global mutable state. Messages go to stderr by level
// and, during dump and restore, also to a log file in the image directory.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace ckpt::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void setLevel(Level level);
Level level();
// Also append every message (at any level) to this file; empty path stops it.
void setFile(const std::string& path);
void write(Level level, std::string_view msg);

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace ckpt::log
