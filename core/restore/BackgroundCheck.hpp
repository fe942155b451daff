// Checks that must pass before a restored tree runs, but not before it is
// built: the checksums of page data and the fingerprints of mapped files
// (reading those is most of the time an image check takes). They run on a
// thread of their own, beside the injected calls that rebuild the tree (and
// beside the process's own reads of its pages), and restore waits for them
// before it lets any process go, so a bad image still starts nothing.
#pragma once

#include <exception>
#include <functional>
#include <thread>

namespace ckpt {

class BackgroundCheck {
 public:
  explicit BackgroundCheck(std::function<void()> check);
  // Waits for the check; its outcome no longer matters (restore failed).
  ~BackgroundCheck();
  BackgroundCheck(const BackgroundCheck&) = delete;
  BackgroundCheck& operator=(const BackgroundCheck&) = delete;

  // Waits for the check and throws what it threw. Also on a restore that
  // failed meanwhile, before it rethrows its own error: a bad image explains
  // the failure better.
  void wait();

 private:
  void join();

  std::exception_ptr error_;
  std::thread thread_;
};

}  // namespace ckpt
