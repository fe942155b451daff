// Rewrites an image's manifest through a function and keeps manifest.xxh3
// consistent with it, so restore's own checks (not the checksum) meet the
// change: an image that claims another kernel, other credentials, ...
#pragma once

#include <fstream>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "Harness.hpp"
#include "core/image/Checksum.hpp"

namespace ckpt::test {

inline void editManifest(const std::string& dir, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(readFile(dir + "/manifest.json"));
  edit(j);
  const std::string text = j.dump(1);
  std::ofstream(dir + "/manifest.json", std::ios::trunc) << text;
  std::ofstream(dir + "/manifest.xxh3", std::ios::trunc)
      << image::xxh3Hex(image::xxh3(text.data(), text.size())) << " " << text.size() << "\n";
}

}  // namespace ckpt::test
