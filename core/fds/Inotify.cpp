// inotify: every watch, by path and mask. fdinfo names each watched inode by
// a file handle; dump turns it back into a path with open_by_handle_at, and
// restore adds the watches again in ckpt, with the same watch descriptors.
// Events still queued at dump are not saved.
#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

// Watch descriptors are handed out one after another; holes left by removed
// watches are recreated with throw-away watches, but only this many.
constexpr int kMaxFillers = 1 << 16;
// Drain the IN_IGNORED events of removed fillers before the queue (16384 by
// default) would overflow.
constexpr int kDrainEvery = 1024;

bool matches(const FdProbe& p) {
  return p.link == "anon_inode:inotify";
}

struct Watch {
  int wd = 0;
  uint32_t mask = 0;
  std::string path;
  uint64_t dev = 0, ino = 0;
};

// ---- dump

uint64_t hexOf(const FdProbe& p, const std::map<std::string, std::string>& rec,
               const std::string& line, const char* key) {
  auto it = rec.find(key);
  if (it != rec.end()) {
    try {
      size_t used = 0;
      uint64_t v = std::stoull(it->second, &used, 16);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
  }
  throw Error(fmt::format("pid {} fd {} (inotify): cannot read '{}' in the fdinfo line '{}'", p.pid,
                          p.fd, key, line));
}

std::vector<unsigned char> handleBytes(const FdProbe& p, const std::string& hex, size_t n,
                                       const std::string& line) {
  if (hex.size() != 2 * n)
    throw Error(fmt::format("pid {} fd {} (inotify): the file handle in '{}' is not {} bytes",
                            p.pid, p.fd, line, n));
  std::vector<unsigned char> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = uint8_t(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
  return out;
}

// /proc/self/mountinfo escapes blanks, newlines and backslashes as \ooo.
std::string unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    auto octal = [&](size_t k) { return s[k] >= '0' && s[k] <= '7'; };
    if (s[i] == '\\' && i + 3 < s.size() && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
      out += char((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Mount points (in ckpt's view) of the file system `dev`; whole-file-system
// mounts first, since a handle may name an inode outside a bind mount.
std::vector<std::string> mountPointsOf(dev_t dev, const std::string& text) {
  std::vector<std::string> whole, part;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string::npos) eol = text.size();
    std::string_view line(text.data() + pos, eol - pos);
    pos = eol + 1;
    // "36 35 98:0 /root /mount/point opts ..."
    std::vector<std::string_view> f;
    size_t at = 0;
    while (f.size() < 5 && at < line.size()) {
      size_t sp = line.find(' ', at);
      if (sp == std::string_view::npos) sp = line.size();
      f.push_back(line.substr(at, sp - at));
      at = sp + 1;
    }
    if (f.size() < 5) continue;
    unsigned maj = 0, min = 0;
    if (std::sscanf(std::string(f[2]).c_str(), "%u:%u", &maj, &min) != 2) continue;
    if (makedev(maj, min) != dev) continue;
    (f[3] == "/" ? whole : part).push_back(unescape(f[4]));
  }
  whole.insert(whole.end(), part.begin(), part.end());
  return whole;
}

// The path of the inode a watch holds, checked to name that inode now.
std::string resolve(const FdProbe& p, const Watch& w, int type,
                    const std::vector<unsigned char>& handle, const std::string& mountinfo,
                    bool* isLink) {
  std::vector<unsigned char> buf(sizeof(file_handle) + handle.size());
  auto* fh = reinterpret_cast<file_handle*>(buf.data());
  fh->handle_bytes = unsigned(handle.size());
  fh->handle_type = type;
  std::memcpy(buf.data() + sizeof(file_handle), handle.data(), handle.size());
  std::string why =
      fmt::format("no mount of device {}:{} is visible to ckpt", major(w.dev), minor(w.dev));
  for (const std::string& mnt : mountPointsOf(dev_t(w.dev), mountinfo)) {
    // Not O_PATH: open_by_handle_at refuses such a mount fd (EBADF).
    UniqueFd mfd(::open(mnt.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mfd) continue;
    UniqueFd f(open_by_handle_at(mfd.get(), fh, O_PATH | O_CLOEXEC));
    if (!f) {
      why = fmt::format("open_by_handle_at through {}: {}{}", mnt, std::strerror(errno),
                        errno == EPERM ? " (it needs CAP_DAC_READ_SEARCH)" : "");
      continue;
    }
    struct stat st {};
    if (fstat(f.get(), &st) != 0 || st.st_dev != w.dev || st.st_ino != w.ino) {
      why = "the file handle named another inode";
      continue;
    }
    std::string path = proc::readLink(fmt::format("/proc/self/fd/{}", f.get()));
    struct stat now {};
    if (path.empty() || path[0] != '/' || lstat(path.c_str(), &now) != 0 || now.st_dev != w.dev ||
        now.st_ino != w.ino) {
      why = fmt::format(
          "no path leads to the watched inode now (the kernel names it '{}'); was it "
          "deleted?",
          path);
      continue;
    }
    *isLink = S_ISLNK(st.st_mode);
    return path;
  }
  throw Error(
      fmt::format("pid {} fd {} (inotify): cannot find the path of watch {} (inode {} on "
                  "device {}:{}): {}",
                  p.pid, p.fd, w.wd, w.ino, major(w.dev), minor(w.dev), why));
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext&) {
  d.kind = image::FileKind::Inotify;
  int queued = 0;
  if (ioctl(p.local.get(), FIONREAD, &queued) == 0 && queued > 0)
    log::warn(
        "pid {} fd {} (inotify): {} bytes of queued events are not saved; after restore the "
        "program will not see them",
        p.pid, p.fd, queued);
  nlohmann::json watches = nlohmann::json::array();
  auto it = p.info.records.find("inotify wd");
  if (it != p.info.records.end()) {
    std::string mountinfo = proc::readProcFile("/proc/self/mountinfo");
    for (const std::string& line : it->second) {
      auto rec = proc::parseFdinfoRecord(line);
      Watch w;
      w.wd = int(hexOf(p, rec, line, "wd"));
      w.ino = hexOf(p, rec, line, "ino");
      uint64_t sdev = hexOf(p, rec, line, "sdev");  // the kernel's dev_t: major << 20 | minor
      w.dev = makedev(unsigned(sdev >> 20), unsigned(sdev & 0xfffff));
      w.mask = uint32_t(hexOf(p, rec, line, "mask"));
      size_t bytes = hexOf(p, rec, line, "fhandle-bytes");
      int type = int(hexOf(p, rec, line, "fhandle-type"));
      auto h = rec.find("f_handle");
      if (bytes == 0 || h == rec.end())
        throw Error(
            fmt::format("pid {} fd {} (inotify): watch {} is on a file system that gives "
                        "no file handles, so ckpt cannot find its path",
                        p.pid, p.fd, w.wd));
      bool isLink = false;
      w.path = resolve(p, w, type, handleBytes(p, h->second, bytes, line), mountinfo, &isLink);
      // A symbolic link is watched itself only when it was added with IN_DONT_FOLLOW.
      if (isLink) w.mask |= IN_DONT_FOLLOW;
      watches.push_back(
          {{"wd", w.wd}, {"mask", w.mask}, {"path", w.path}, {"dev", w.dev}, {"ino", w.ino}});
    }
  }
  d.state = {{"watches", std::move(watches)}};
}

// ---- restore

// Reads whatever is queued: the IN_IGNORED events that removing the fillers
// made, and warns about anything else (changes during the restore).
void drain(int fd, const std::set<int>& fillers) {
  int others = 0;
  for (;;) {
    int avail = 0;
    if (ioctl(fd, FIONREAD, &avail) != 0) throwErrno("FIONREAD on a restored inotify");
    if (avail <= 0) break;
    std::vector<char> buf(static_cast<size_t>(avail));
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) throwErrno("reading the events of a restored inotify");
    for (size_t at = 0; at + sizeof(inotify_event) <= size_t(n);) {
      inotify_event ev;
      std::memcpy(&ev, buf.data() + at, sizeof ev);
      bool filler =
          (fillers.contains(ev.wd) && (ev.mask & IN_IGNORED)) || (ev.mask & IN_Q_OVERFLOW);
      if (!filler) ++others;
      at += sizeof ev + ev.len;
    }
  }
  if (others)
    log::warn("{} inotify events that happened while the watches were restored are lost", others);
}

// A path for throw-away watches: one whose inode no real watch uses.
std::string fillerPath(const std::vector<Watch>& watches, const std::string& imageDir) {
  for (const std::string& cand : {imageDir, std::string("/"), std::string("/proc"),
                                  std::string("/dev"), std::string("/tmp")}) {
    struct stat st {};
    if (cand.empty() || stat(cand.c_str(), &st) != 0) continue;
    bool used = std::any_of(watches.begin(), watches.end(), [&](const Watch& w) {
      struct stat ws {};
      bool now =
          lstat(w.path.c_str(), &ws) == 0 && ws.st_dev == st.st_dev && ws.st_ino == st.st_ino;
      return now || (w.dev == st.st_dev && w.ino == st.st_ino);
    });
    if (!used) return cand;
  }
  throw Error("no free path for the filler watches that restore inotify watch descriptors");
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  std::vector<Watch> watches;
  for (const auto& j : d.state.at("watches"))
    watches.push_back({j.at("wd").get<int>(), j.at("mask").get<uint32_t>(),
                       j.at("path").get<std::string>(), j.at("dev").get<uint64_t>(),
                       j.at("ino").get<uint64_t>()});
  std::sort(watches.begin(), watches.end(), [](auto& a, auto& b) { return a.wd < b.wd; });
  UniqueFd fd(inotify_init1(IN_CLOEXEC | (d.flags & O_NONBLOCK ? IN_NONBLOCK : 0)));
  if (!fd) throwErrno("creating an inotify instance");
  // A new instance hands out wd 1, 2, 3, ... (the kernel's idr_alloc_cyclic),
  // and a removed wd is not given again: add in order, and fill each hole
  // with a watch that is removed at once.
  std::set<int> fillers;
  std::string filler;
  int next = 1;
  for (const Watch& w : watches) {
    if (w.wd < next)
      throw Error(fmt::format("manifest: inotify file {} lists watch {} twice or out of range",
                              d.id, w.wd));
    if (w.wd - next > kMaxFillers - int(fillers.size()))
      throw Error(
          fmt::format("inotify watch {} on {}: ckpt recreates watch descriptors by filling "
                      "the holes before them, and refuses more than {} holes",
                      w.wd, w.path, kMaxFillers));
    if (next < w.wd && filler.empty()) filler = fillerPath(watches, ctx.imageDir);
    for (; next < w.wd; ++next) {
      int got = inotify_add_watch(fd.get(), filler.c_str(), IN_ATTRIB);
      if (got < 0) throwErrno(fmt::format("adding a filler inotify watch on {}", filler));
      inotify_rm_watch(fd.get(), got);
      if (got != next)
        throw Error(
            fmt::format("inotify watch descriptors do not come in order here (got {}, "
                        "expected {}): ckpt cannot give back watch {} on {}",
                        got, next, w.wd, w.path));
      fillers.insert(got);
      if (fillers.size() % kDrainEvery == 0) drain(fd.get(), fillers);
    }
    struct stat st {};
    if (lstat(w.path.c_str(), &st) != 0)
      throwErrno(fmt::format("inotify watch {} is on {}, which is gone; recreate it to restore",
                             w.wd, w.path));
    if (st.st_dev != w.dev || st.st_ino != w.ino)
      log::warn(
          "inotify watch {}: {} is another file than at dump (inode {} then, {} now); "
          "watching the new one",
          w.wd, w.path, w.ino, st.st_ino);
    int got = inotify_add_watch(fd.get(), w.path.c_str(), w.mask);
    if (got < 0) throwErrno(fmt::format("watching {} again (inotify watch {})", w.path, w.wd));
    if (got != w.wd)
      throw Error(
          fmt::format("inotify watch on {} came back as watch {}, not {} (does another "
                      "watch now name the same file?)",
                      w.path, got, w.wd));
    next = w.wd + 1;
  }
  if (!fillers.empty()) drain(fd.get(), fillers);
  return fd;
}

}  // namespace

extern const FdKind kInotifyKind{"inotify", matches, dump, restore, {image::FileKind::Inotify},
                                 nullptr};

}  // namespace ckpt
