// `ckpt ls [DIR] [--json]`: the images in a folder, newest first, with when
// they were made, what they hold (root command, kind), their size on disk
// and whether a thumbnail is stored. Reads each manifest only (fast); an
// image whose manifest is unreadable is listed as such, with the reason.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "cli/Commands.hpp"
#include "cli/DiskUsage.hpp"
#include "cli/Format.hpp"
#include "core/image/ImageReader.hpp"
#include "core/util/Error.hpp"

namespace ckpt::cli {
namespace {

namespace fs = std::filesystem;

struct Listed {
  std::string path;
  bool ok = false;
  std::string error;  // why the manifest cannot be read
  int64_t created = 0;
  pid_t root = 0;
  std::string command;
  std::string kind;
  size_t processes = 0;
  uint64_t disk = 0;
  bool thumbnail = false;
};

// What kind of session an image holds, for a person choosing one.
std::string kindOf(const image::Image& img) {
  if (img.layers.count("vnc")) return "vnc";
  if (img.layers.count("x11")) return "x11";
  for (const auto& h : img.hooks)
    if (h.name.rfind("ckpt-hook:run:", 0) == 0) return "terminal";
  auto tty = img.layers.find("tty");
  if (tty != img.layers.end()) {
    const auto& j = tty->second;
    bool ptys = j.contains("ptys") && j["ptys"].is_array() && !j["ptys"].empty();
    bool terminal = j.contains("terminal") && !j["terminal"].is_null();
    if (ptys || terminal) return "terminal";
  }
  return "process";
}

Listed describe(const fs::path& dir) {
  Listed l;
  l.path = dir.string();
  l.thumbnail = fs::exists(dir / "thumbnail.png");
  try {
    l.disk = diskUsage(l.path).disk;
    image::Image img = image::readImage(l.path);
    l.ok = true;
    l.created = img.created_unix;
    l.root = img.root_pid;
    l.processes = img.processes.size();
    if (!img.processes.empty()) l.command = img.processes.front().comm;
    l.kind = kindOf(img);
  } catch (const Error& e) {
    l.error = e.what();
  }
  return l;
}

}  // namespace

int lsCommand(const std::string& folder, bool json) {
  std::error_code ec;
  std::vector<Listed> images;
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    if (!entry.is_directory()) continue;
    // An image is a directory with a manifest; a dump in progress or one
    // that failed leaves NAME.partial, which is no image.
    if (!fs::exists(entry.path() / "manifest.json")) continue;
    images.push_back(describe(entry.path()));
  }
  if (ec) throw SysError(fmt::format("listing {}", folder), ec.value());
  std::sort(images.begin(), images.end(), [](const Listed& a, const Listed& b) {
    return a.created != b.created ? a.created > b.created : a.path < b.path;
  });
  if (json) {
    auto out = nlohmann::json::array();
    for (const auto& l : images) {
      nlohmann::json j{
          {"path", l.path}, {"ok", l.ok}, {"disk_bytes", l.disk}, {"thumbnail", l.thumbnail}};
      if (l.ok) {
        j["created_unix"] = l.created;
        j["root_pid"] = l.root;
        j["command"] = l.command;
        j["kind"] = l.kind;
        j["processes"] = l.processes;
      } else {
        j["error"] = l.error;
      }
      out.push_back(j);
    }
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (images.empty()) {
    std::printf("no images in %s\n", folder.c_str());
    return 0;
  }
  std::printf("%-25s  %-8s  %-16s  %7s  %9s  %-5s  %s\n", "CREATED", "KIND", "COMMAND", "ROOT",
              "SIZE", "THUMB", "IMAGE");
  for (const auto& l : images) {
    if (!l.ok) {
      std::printf("%-25s  %-8s  %-16s  %7s  %9s  %-5s  %s  (%s)\n", "?", "broken", "", "",
                  humanBytes(l.disk).c_str(), l.thumbnail ? "yes" : "no", l.path.c_str(),
                  l.error.c_str());
      continue;
    }
    std::printf("%-25s  %-8s  %-16s  %7d  %9s  %-5s  %s\n", localTime(l.created).c_str(),
                l.kind.c_str(), l.command.c_str(), l.root, humanBytes(l.disk).c_str(),
                l.thumbnail ? "yes" : "no", l.path.c_str());
  }
  return 0;
}

}  // namespace ckpt::cli
