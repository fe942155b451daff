// Progress of a long dump or restore on the user's terminal: one line on
// stderr (bytes, rate, time left), rewritten in place, cleared at the end.
// Shown only when stderr is a terminal, the log level is not quiet (-q),
// and the work has lasted more than a second; otherwise it costs an atomic
// add per batch.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace ckpt {

class Progress {
 public:
  // `what` names the work ("dump", "restore"). `show` false: never print.
  Progress(std::string what, bool show);
  // On stderr a terminal and the log level at least Warn (not -q).
  static bool wanted();
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void addTotal(uint64_t bytes) { total_.fetch_add(bytes, std::memory_order_relaxed); }
  void advance(uint64_t bytes) { done_.fetch_add(bytes, std::memory_order_relaxed); }

 private:
  void loop();
  void draw(bool final);

  std::string what_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  size_t drawnWidth_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The text of one progress line, e.g. "dump: 512.0 / 1024.0 MiB, 1.20 GB/s,
// 0.4 s left". Pure, for the unit tests.
std::string progressLine(const std::string& what, uint64_t done, uint64_t total, double seconds);

}  // namespace ckpt
