// `ckpt check --image DIR|-`: restore's pre-flight checks alone, starting
// nothing. `-` reads a manifest on stdin: `ckpt migrate` sends the one it
// has just written to the far side, so a file missing or different there
// stops the migration before the source is killed.
#include <unistd.h>

#include <cstdio>
#include <iterator>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/Commands.hpp"
#include "core/image/ImageReader.hpp"
#include "core/image/Manifest.hpp"
#include "core/restore/Preflight.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
namespace {

std::string readStdin() {
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throwErrno("reading a manifest from stdin");
    if (n == 0) return text;
    text.append(buf, size_t(n));
  }
}

}  // namespace

int checkImageCommand(const std::string& dir, bool json) {
  image::Image img;
  try {
    if (dir == "-") {
      img = image::parseManifest(readStdin());
    } else {
      img = image::readImage(dir);
      image::verifyImage(dir, img, /*deep=*/false);
    }
    checkImageFitsHere(img);
  } catch (const Error& e) {
    if (!json) throw;
    fmt::print("{}\n", nlohmann::json{{"fits", false}, {"problem", e.what()}}.dump(2));
    return 1;
  }
  if (json)
    fmt::print("{}\n", nlohmann::json{{"fits", true},
                                      {"processes", img.processes.size()},
                                      {"mapped_files", img.mapped_files.size()}}
                           .dump(2));
  else
    fmt::print("the image fits here: {} processes, {} mapped files as they were at the dump\n",
               img.processes.size(), img.mapped_files.size());
  return 0;
}

}  // namespace ckpt::cli
