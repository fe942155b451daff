// Kernel feature detection for `ckpt check`: every feature that dump and
// restore use is tried for real (on a forked child or on ckpt itself), never
// inferred from the kernel version.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace ckpt::check {

struct Feature {
  std::string name;    // stable identifier, also the name in `ckpt check --json`
  bool required;       // dump or restore cannot work without it
  bool ok;             // the feature worked when tried
  std::string detail;  // one line: what came of the try, or why it is missing
};

// Names of all checks, in the order checkAll() runs them.
std::vector<std::string> featureNames();

// Runs every check. Forks, traces and kills short-lived children of the
// calling process (which must be allowed to ptrace its own children); each
// child is killed and reaped before the check returns, on every path.
std::vector<Feature> checkAll();

// Runs the one named check. Throws ckpt::Error for an unknown name.
Feature checkOne(std::string_view name);

// True when every required feature is ok.
bool requiredPresent(const std::vector<Feature>& features);

}  // namespace ckpt::check
