// A few threads that share the pieces of one job at a time (the frames of a
// batch to compress or decompress), created once and reused, so that a batch
// costs no thread creation.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ckpt {

class WorkerPool {
 public:
  // `threads` helpers besides the caller; 0: one per core but one.
  explicit WorkerPool(unsigned threads = 0);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Calls fn(i) for every i in [0, n) on the helpers and the calling thread,
  // returns when all are done, and rethrows the first exception thrown.
  void run(size_t n, const std::function<void(size_t)>& fn);

  unsigned threads() const { return unsigned(helpers_.size()) + 1; }

 private:
  void helperLoop();
  void work();

  std::vector<std::thread> helpers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t)>* fn_ = nullptr;
  size_t n_ = 0;
  size_t next_ = 0;
  size_t finished_ = 0;
  unsigned busy_ = 0;
  unsigned long generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace ckpt
