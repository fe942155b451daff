#include "vnc/layer/VncLayer.hpp"

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/hooks/HookDiscovery.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "picture/Png.hpp"
#include "vnc/desktop/Desktop.hpp"
#include "vnc/rfb/Snapshot.hpp"

namespace ckpt::vnc {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The inodes of the sockets that the numbered fds of `pid` hold.
std::vector<std::pair<int, uint64_t>> socketFds(pid_t pid) {
  std::vector<std::pair<int, uint64_t>> out;
  const std::string dir = fmt::format("/proc/{}/fd", pid);
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[64] = {};
    if (readlink((dir + "/" + e->d_name).c_str(), link, sizeof link - 1) <= 0) continue;
    unsigned long long ino = 0;
    if (std::sscanf(link, "socket:[%llu]", &ino) == 1) out.emplace_back(std::atoi(e->d_name), ino);
  }
  closedir(d);
  return out;
}

class VncDump : public LayerDump {
 public:
  VncDump(pid_t root, pid_t xvnc, std::string socket)
      : root_(root), xvnc_(xvnc), socket_(std::move(socket)) {}

  void beforeFreeze() override {
    // A picture for `ckpt ls` and `inspect --thumbnail`; a dump never fails
    // for want of one.
    try {
      picture::Frame f = takeSnapshot(Address{"", 0, socket_}, "", std::chrono::seconds(3));
      fullWidth_ = f.width;
      fullHeight_ = f.height;
      picture::Frame t = f.scaledToWidth(kThumbnailWidth);
      thumbWidth_ = t.width;
      thumbHeight_ = t.height;
      png_ = picture::encodePng(t);
    } catch (const Error& e) {
      log::warn("vnc: desktop of Xvnc pid {}: no thumbnail in the image: {}", xvnc_, e.what());
    }
  }

  std::vector<std::pair<pid_t, int>> externals(const std::vector<pid_t>& frozen) override {
    // Every connection accepted from the desktop's RFB socket is a viewer's
    // (the gateway's, or any other): outside the tree by design.
    std::set<uint64_t> viewers;
    for (const auto& s : hooks::parseProcNetUnix(slurp(fmt::format("/proc/{}/net/unix", root_))))
      if (s.name && *s.name == socket_ && !s.listening) viewers.insert(s.ino);
    std::vector<std::pair<pid_t, int>> out;
    for (pid_t pid : frozen)
      for (auto [fd, ino] : socketFds(pid))
        if (viewers.count(ino)) {
          log::info("vnc: pid {} fd {}: a viewer's connection to {}; restored as closed", pid, fd,
                    socket_);
          out.emplace_back(pid, fd);
        }
    return out;
  }

  void beforeCommit(image::Image& img, image::ImageWriter& writer) override {
    nlohmann::json state{{"xvnc_pid", xvnc_}, {"rfb_socket", socket_}};
    if (!png_.empty()) {
      const std::string file = "thumbnail.png";
      uint64_t xxh3 = writer.writeBlob(file, png_.data(), png_.size());
      img.attachments.push_back({"thumbnail", file, png_.size(), xxh3});
      state["thumbnail"] = {{"width", thumbWidth_},
                            {"height", thumbHeight_},
                            {"screen_width", fullWidth_},
                            {"screen_height", fullHeight_}};
    }
    img.layers["vnc"] = std::move(state);
  }

 private:
  pid_t root_;
  pid_t xvnc_;
  std::string socket_;
  std::string png_;
  int thumbWidth_ = 0, thumbHeight_ = 0, fullWidth_ = 0, fullHeight_ = 0;
};

}  // namespace

std::unique_ptr<LayerDump> VncLayer::beginDump(pid_t root) {
  for (pid_t pid : hooks::liveTreePids(root)) {
    std::string socket = rfbSocketOfXvnc(slurp(fmt::format("/proc/{}/cmdline", pid)));
    if (!socket.empty()) return std::make_unique<VncDump>(root, pid, socket);
  }
  return nullptr;
}

void registerWithCore() {
  static VncLayer layer;
  registerLayer(layer);
}

}  // namespace ckpt::vnc
