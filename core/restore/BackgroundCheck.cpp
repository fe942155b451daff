// BackgroundCheck (see BackgroundCheck.hpp).
#include "core/restore/BackgroundCheck.hpp"

#include <utility>

namespace ckpt {

BackgroundCheck::BackgroundCheck(std::function<void()> check)
    : thread_([this, check = std::move(check)] {
        try {
          check();
        } catch (...) {
          error_ = std::current_exception();
        }
      }) {}

BackgroundCheck::~BackgroundCheck() {
  join();
}

void BackgroundCheck::join() {
  if (thread_.joinable()) thread_.join();
}

void BackgroundCheck::wait() {
  join();
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

}  // namespace ckpt
