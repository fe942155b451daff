// WorkerPool: one job at a time, its pieces handed out under a mutex (pieces
// are frames of a MiB or more: the lock costs nothing next to them).
#include "core/util/WorkerPool.hpp"

namespace ckpt {

WorkerPool::WorkerPool(unsigned threads) {
  if (threads == 0) {
    const unsigned cores = std::thread::hardware_concurrency();
    threads = cores > 1 ? cores - 1 : 0;
  }
  for (unsigned i = 0; i < threads; ++i) helpers_.emplace_back([this] { helperLoop(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : helpers_) t.join();
}

void WorkerPool::work() {
  std::unique_lock lock(mu_);
  while (next_ < n_) {
    const size_t i = next_++;
    lock.unlock();
    try {
      if (!error_) (*fn_)(i);
    } catch (...) {
      lock.lock();
      if (!error_) error_ = std::current_exception();
      lock.unlock();
    }
    lock.lock();
    ++finished_;
  }
  if (finished_ == n_) done_.notify_all();
}

void WorkerPool::helperLoop() {
  unsigned long seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      ++busy_;
    }
    work();
    {
      std::lock_guard lock(mu_);
      --busy_;
    }
    done_.notify_all();
  }
}

void WorkerPool::run(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    next_ = 0;
    finished_ = 0;
    error_ = nullptr;
    ++generation_;
  }
  if (n > 1) wake_.notify_all();
  work();
  std::exception_ptr error;
  {
    // Helpers may still hold fn_ until they leave work(): wait for them too.
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return finished_ == n_ && busy_ == 0; });
    fn_ = nullptr;
    n_ = 0;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace ckpt
