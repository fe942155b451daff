// The progress line: a thread wakes every 100 ms, draws with a carriage
// return and pads with spaces over the previous line (no terminal-specific
// sequences), and blanks the line when the work ends.
#include "core/util/Progress.hpp"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "core/util/Log.hpp"

namespace ckpt {
namespace {
constexpr auto kQuietStart = std::chrono::seconds(1);
constexpr auto kRedraw = std::chrono::milliseconds(100);
}  // namespace

std::string progressLine(const std::string& what, uint64_t done, uint64_t total, double seconds) {
  constexpr double kMiB = 1024.0 * 1024.0;
  std::string line = fmt::format("{}: {:.1f} / {:.1f} MiB", what, double(done) / kMiB,
                                 double(std::max(total, done)) / kMiB);
  if (seconds > 0 && done > 0) {
    double rate = double(done) / seconds;
    line += fmt::format(", {:.2f} GB/s", rate / 1e9);
    if (total > done) line += fmt::format(", {:.1f} s left", double(total - done) / rate);
  }
  return line;
}

bool Progress::wanted() {
  return isatty(STDERR_FILENO) == 1 && log::level() >= log::Level::Warn;
}

Progress::Progress(std::string what, bool show)
    : what_(std::move(what)), start_(std::chrono::steady_clock::now()) {
  if (show) thread_ = std::thread([this] { loop(); });
}

Progress::~Progress() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Progress::loop() {
  // CKPT_PROGRESS_DELAY_MS: when the line first shows (tests set 0).
  auto delay = std::chrono::milliseconds(kQuietStart);
  if (const char* env = std::getenv("CKPT_PROGRESS_DELAY_MS"); env && *env)
    delay = std::chrono::milliseconds(std::atol(env));
  std::unique_lock lock(mu_);
  if (cv_.wait_for(lock, delay, [&] { return stop_; })) return;  // done quickly: nothing shown
  do draw(false);
  while (!cv_.wait_for(lock, kRedraw, [&] { return stop_; }));
  draw(true);
}

void Progress::draw(bool final) {
  std::string line;
  if (!final) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    line = progressLine(what_, done_.load(std::memory_order_relaxed),
                        total_.load(std::memory_order_relaxed), secs);
  }
  size_t width = line.size();
  if (line.size() < drawnWidth_) line.append(drawnWidth_ - line.size(), ' ');
  line = "\r" + line + (final ? "\r" : "");
  if (write(STDERR_FILENO, line.data(), line.size()) < 0) return;
  drawnWidth_ = width;
}

}  // namespace ckpt
