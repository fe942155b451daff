// Every input kept under tests/fuzz/manifest/ (seeds and what the fuzzer
// found) goes through the manifest parser in the ordinary suite: an Image or
// one ckpt::Error, nothing else.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/image/Manifest.hpp"
#include "core/util/Error.hpp"

namespace {

TEST(FuzzRegressions, ManifestInputsParseOrFailCleanly) {
  int n = 0;
  for (const auto& f : std::filesystem::directory_iterator(CKPT_FUZZ_INPUTS_DIR "/manifest")) {
    std::ifstream in(f.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    SCOPED_TRACE(f.path().string());
    try {
      (void)ckpt::image::parseManifest(text.str());
    } catch (const ckpt::Error& e) {
      EXPECT_NE(std::string(e.what()), "");
    }
    ++n;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
