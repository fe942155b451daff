#include "cli/Format.hpp"

#include <fmt/format.h>

#include <ctime>
#include <iterator>

namespace ckpt::cli {

std::string humanBytes(uint64_t n) {
  if (n < 1024) return fmt::format("{} B", n);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(n) / 1024;
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) v /= 1024, ++u;
  return fmt::format("{:.1f} {}", v, units[u]);
}

std::string localTime(int64_t unix) {
  const auto t = static_cast<time_t>(unix);
  struct tm tm;
  if (!localtime_r(&t, &tm)) return fmt::format("unix {}", unix);
  char buf[64];
  if (std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
    return fmt::format("unix {}", unix);
  return buf;
}

}  // namespace ckpt::cli
