#include "cli/RollingDumps.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <set>
#include <vector>

#include "core/image/ImageReader.hpp"

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::cli {
namespace {

namespace fs = std::filesystem;
constexpr const char* kPrefix = "img-";

std::string imageName() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::tm tm{};
  localtime_r(&ts.tv_sec, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return fmt::format("{}{}.{:03}", kPrefix, buf, ts.tv_nsec / 1000000);
}

// The complete images of this rotation, oldest first (names sort by time).
std::vector<fs::path> images(const std::string& folder) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    const std::string name = e.path().filename();
    if (name.rfind(kPrefix, 0) == 0 && fs::exists(e.path() / "manifest.json"))
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::chrono::milliseconds parseDuration(const std::string& text) {
  size_t used = 0;
  double value = -1;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
  }
  std::string unit = text.substr(used);
  double scale = unit == "ms"                ? 1
                 : unit == "" || unit == "s" ? 1000
                 : unit == "m"               ? 60000
                 : unit == "h"               ? 3600000
                                             : -1;
  if (value <= 0 || scale < 0 || !std::isfinite(value))
    throw Error(fmt::format("'{}' is no duration: give a number with ms, s, m or h (5m)", text));
  return std::chrono::milliseconds(std::llround(value * scale));
}

std::vector<std::string> imagesToRemove(
    const std::vector<std::string>& all, int keep,
    const std::function<std::vector<std::string>(const std::string&)>& parentsOf) {
  std::set<std::string> needed;
  const size_t firstKept = all.size() > size_t(keep) ? all.size() - size_t(keep) : 0;
  for (size_t i = firstKept; i < all.size(); ++i)
    for (const auto& p : parentsOf(all[i])) needed.insert(p);
  std::vector<std::string> out;
  for (size_t i = 0; i < firstKept; ++i)
    if (!needed.count(all[i])) out.push_back(all[i]);
  return out;
}

int rollingDumps(
    pid_t root, const std::string& folder, const Rolling& rolling,
    const std::function<DumpSummary(const std::string& dir, const std::string& parent)>& dumpTo,
    const std::function<void(const std::string& dir, const DumpSummary&)>& report) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) throw SysError(fmt::format("creating {}", folder), ec.value());
  UniqueFd pidfd(int(syscall(SYS_pidfd_open, root, 0)));
  if (!pidfd) throwErrno(fmt::format("pid {}", root));
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigprocmask(SIG_BLOCK, &stop, nullptr);
  UniqueFd sigfd(signalfd(-1, &stop, SFD_CLOEXEC));
  if (!sigfd) throwErrno("signalfd");
  std::string last;  // the image before, "" at first: this run starts with a full one
  int depth = 0;     // how many parents `last` has
  for (;;) {
    std::string dir = (fs::path(folder) / imageName()).string();
    const bool incremental = !last.empty() && depth + 1 < rolling.keep;
    DumpSummary s = dumpTo(dir, incremental ? last : std::string());
    depth = incremental ? depth + 1 : 0;
    last = fs::canonical(dir).string();
    report(dir, s);
    std::vector<std::string> all;
    for (const auto& p : images(folder)) all.push_back(fs::canonical(p).string());
    auto parentsOf = [](const std::string& dir) {
      std::vector<std::string> out;
      for (const auto& p : image::readImage(dir).parents) out.push_back(p.path);
      return out;
    };
    try {
      for (const auto& old : imagesToRemove(all, rolling.keep, parentsOf)) {
        fs::remove_all(old, ec);
        if (ec) log::warn("cannot remove the old image {}: {}", old, ec.message());
      }
    } catch (const Error& e) {
      // Which parents a kept image needs is unknown: removing nothing loses nothing.
      log::warn("rotation skipped, nothing removed: {}", e.what());
    }
    // Until the next one: the tree ending or a stop request ends the loop.
    pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {sigfd.get(), POLLIN, 0}};
    int n = poll(p, 2, int(std::min<int64_t>(rolling.every.count(), INT32_MAX)));
    if (n < 0 && errno != EINTR) throwErrno("poll");
    if (p[0].revents) {
      log::info("pid {} ended; the newest image is {}", root, dir);
      return 0;
    }
    if (p[1].revents) {
      log::info("stopped; the newest image is {}", dir);
      return 0;
    }
  }
}

}  // namespace ckpt::cli
