// A child process run by argv with pipes to its stdin and from its stdout
// (stderr stays ours, so its messages reach the user): killed and reaped by
// the destructor unless it was waited for, on every path.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"

namespace ckpt::cli {

class Subprocess {
 public:
  // Starts argv[0] (searched on PATH). Throws Error when it cannot be started.
  explicit Subprocess(const std::vector<std::string>& argv);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  // Write end of the child's stdin; reset() it to send EOF.
  UniqueFd& in() { return in_; }
  // Closes stdin, reads stdout to its end and waits: the raw wait status.
  int finish(std::string& out);

 private:
  pid_t pid_ = -1;
  UniqueFd in_;
  UniqueFd out_;
};

// A wait status as words: "exit status 3", "killed by signal 9".
std::string describeStatus(int status);

}  // namespace ckpt::cli
