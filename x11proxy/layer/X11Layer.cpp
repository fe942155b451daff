// The x11 layer's dump side (see X11Layer.hpp).
#include "x11proxy/layer/X11Layer.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/image/ImageWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "x11proxy/proxy/ControlSocket.hpp"

namespace ckpt::x11 {
namespace {

constexpr int kThumbnailWidth = 320;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// `ckpt x11 run ...`: argv[1] and argv[2] (after global options, none of
// which take a value) are "x11" and "run".
bool isProxy(pid_t pid) {
  std::string cmdline = slurp("/proc/" + std::to_string(pid) + "/cmdline");
  return cmdline.find(std::string("\0x11\0run\0", 9)) != std::string::npos &&
         std::filesystem::path(cmdline.substr(0, cmdline.find('\0'))).filename() == "ckpt";
}

class X11Dump : public LayerDump {
 public:
  explicit X11Dump(pid_t proxy) : proxy_(proxy) {}

  void beforeFreeze() override {
    // A dump never fails for want of a picture.
    char dir[] = "/tmp/ckpt-x11-thumb-XXXXXX";
    if (!::mkdtemp(dir)) return;
    std::string path = std::string(dir) + "/thumbnail.png";
    try {
      auto answer = askProxy(proxy_, {{"thumbnail", path}, {"width", kThumbnailWidth}}, 5000);
      if (answer.value("ok", false)) {
        png_ = slurp(path);
        state_ = {{"width", answer["width"]},
                  {"height", answer["height"]},
                  {"window_width", answer["window_width"]},
                  {"window_height", answer["window_height"]}};
      } else {
        log::warn("x11: proxy pid {}: no thumbnail in the image: {}", proxy_,
                  answer.value("error", std::string("no reason given")));
      }
    } catch (const Error& e) {
      log::warn("x11: proxy pid {}: no thumbnail in the image: {}", proxy_, e.what());
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  void beforeCommit(image::Image& img, image::ImageWriter& writer) override {
    nlohmann::json state{{"proxy_pid", proxy_}};
    if (!png_.empty()) {
      const std::string file = "thumbnail.png";
      uint64_t xxh3 = writer.writeBlob(file, png_.data(), png_.size());
      img.attachments.push_back({"thumbnail", file, png_.size(), xxh3});
      state["thumbnail"] = state_;
    }
    img.layers["x11"] = std::move(state);
  }

 private:
  pid_t proxy_;
  std::string png_;
  nlohmann::json state_;
};

}  // namespace

std::unique_ptr<LayerDump> X11Layer::beginDump(pid_t root) {
  if (!isProxy(root)) return nullptr;
  return std::make_unique<X11Dump>(root);
}

void registerWithCore() {
  static X11Layer layer;
  registerLayer(layer);
}

}  // namespace ckpt::x11
