// libFuzzer target: the manifest parser (which also reads every process's
// page index: the runs of each mapping and where they sit in the page
// files) must turn any input into an Image or one ckpt::Error, never crash,
// hang or read out of bounds. `make fuzz` builds and runs it with clang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/image/Manifest.hpp"
#include "core/util/Error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    (void)ckpt::image::parseManifest(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const ckpt::Error&) {
  }
  return 0;
}
