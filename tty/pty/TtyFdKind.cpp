// Terminal fds: pty masters and slaves inside the tree (saved with their
// pair), and terminals whose other side is outside it (the user's own,
// `--shell-job`), which restore replaces with the terminal ckpt runs in.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <set>

#include "core/fds/FdKind.hpp"
#include "core/util/Error.hpp"
#include "tty/TtyLayer.hpp"
#include "tty/pty/PtyState.hpp"

namespace ckpt::tty {
namespace {

dev_t realDevice(int fd) {
  unsigned dev = 0;
  if (ioctl(fd, TIOCGDEV, &dev) != 0) return 0;
  return decodeDevice(dev);
}

bool matches(const FdProbe& p) {
  return S_ISCHR(p.st.st_mode) && realDevice(p.local.get()) != 0;
}

nlohmann::json& ttyState(image::Image& img) {
  auto& j = img.layers["tty"];
  if (!j.is_object()) j = {{"ptys", nlohmann::json::array()}, {"terminal", nullptr}};
  return j;
}

// After the last process: a slave whose master is not in the tree, or any
// other terminal, is outside the tree. One that a process of the tree has
// as its controlling terminal is the user's terminal, saved only when asked
// for (--shell-job, or named external: `ckpt run`'s hook names its own).
// Any other belongs to a client outside (tmux keeps its clients' terminals):
// with --unix-close or --external it comes back hung up, as if the client
// had gone, like the client's connection.
void classify(FdDumpContext& ctx) {
  auto& state = ttyState(ctx.image);
  std::set<int> masters;
  for (auto& p : state["ptys"]) masters.insert(p["index"].get<int>());
  std::set<dev_t> controlling;
  for (const auto& p : ctx.image.processes)
    if (p.ctty) controlling.insert(decodeDevice(uint32_t(p.ctty)));
  dev_t terminal = 0;
  for (auto& d : ctx.image.files) {
    if (d.kind != image::FileKind::Tty) continue;
    auto& s = d.state;
    if (s["role"] == "master") continue;
    if (s["role"] == "slave" && masters.count(s["pty"].get<int>())) continue;
    pid_t pid = s["holder"][0];
    int fd = s["holder"][1];
    bool named = s["named_external"].get<bool>();
    if (!controlling.count(s["device"].get<dev_t>())) {
      if (!named && !ctx.unixClose)
        throw Error(fmt::format(
            "pid {} fd {} is the terminal {} of a process outside the tree (a client's, as "
            "tmux keeps its attached clients'); rerun with --unix-close (clients' connections "
            "and terminals come back closed) or --external {}:{}",
            pid, fd, d.path, pid, fd));
      s["role"] = "hungup";
      continue;
    }
    if (!ctx.shellJob && !s["named_external"].get<bool>())
      throw Error(fmt::format(
          "pid {} fd {} is the terminal {}, whose other side is outside the tree (the terminal "
          "it was started from): dump with --shell-job to save it as the user's terminal",
          pid, fd, d.path));
    dev_t dev = s["device"].get<dev_t>();
    if (terminal != 0 && dev != terminal)
      throw Error(
          fmt::format("pid {} fd {} is a second terminal outside the tree ({}); only one "
                      "can stand for the user's terminal",
                      pid, fd, d.path));
    s["role"] = "external";
    if (terminal == 0) {
      terminal = dev;
      int local = -1;
      for (auto& [id, f] : ctx.seen)
        if (id == d.id) local = f.get();
      winsize ws{};
      ioctl(local, TIOCGWINSZ, &ws);
      state["terminal"] = {{"path", d.path},
                           {"termios", toJson(getTermios(local))},
                           {"size", {ws.ws_row, ws.ws_col, ws.ws_xpixel, ws.ws_ypixel}}};
    }
  }
}

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  d.kind = image::FileKind::Tty;
  d.path = p.link;
  dev_t dev = realDevice(p.local.get());
  auto& state = ttyState(ctx.image);
  bool first = true;
  for (auto* f : ctx.finishers)
    if (f == classify) first = false;
  if (first) ctx.finishers.push_back(classify);
  // TIOCGDEV names a master's slave: only a master answers TIOCGPTN.
  if (int idx = -1; ioctl(p.local.get(), TIOCGPTN, &idx) == 0) {
    PtyState pty = readPtyState(p.local.get(), p.pid, p.fd);
    state["ptys"].push_back(toJson(pty));
    d.state = {{"role", "master"}, {"pty", pty.index}};
    return;
  }
  d.state = {{"role", "other"},
             {"device", uint64_t(dev)},
             {"holder", {p.pid, p.fd}},
             {"named_external", ctx.isExternal(p.pid, p.fd)},
             {"via_dev_tty", p.st.st_rdev == makedev(5, 0)}};
  if (int idx = ptySlaveIndex(dev); idx >= 0) {
    d.state["role"] = "slave";
    d.state["pty"] = idx;
  }
}

// A terminal whose other side has gone: reads see EOF, writes EIO.
UniqueFd openHungUp(int flags) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  int unlock = 0;
  if (!master || ioctl(master.get(), TIOCSPTLCK, &unlock) != 0)
    throwErrno("making a hung-up terminal (/dev/ptmx)");
  UniqueFd slave(ioctl(master.get(), TIOCGPTPEER, (flags & ~O_CLOEXEC) | O_NOCTTY));
  if (!slave) throwErrno("making a hung-up terminal (TIOCGPTPEER)");
  fcntl(slave.get(), F_SETFD, FD_CLOEXEC);
  return slave;  // the master closes here: the slave side is hung up
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext&) {
  TtyRestore& r = TtyRestore::active();
  std::string role = d.state.value("role", "");
  int flags = d.flags & (O_ACCMODE | O_NONBLOCK | O_APPEND | O_ASYNC);
  if (role == "master") {
    UniqueFd fd(fcntl(r.pair(d.state.at("pty").get<int>()).master(), F_DUPFD_CLOEXEC, 0));
    if (!fd) throwErrno("duplicating a pty master");
    if (fcntl(fd.get(), F_SETFL, flags) != 0) throwErrno("setting a pty master's flags");
    return fd;
  }
  if (role == "slave") return r.pair(d.state.at("pty").get<int>()).openSlave(flags);
  if (role == "external") return r.openTerminal(flags);
  if (role == "hungup") return openHungUp(flags);
  throw Error(fmt::format("manifest: file {} is a terminal of unknown role '{}'", d.id, role));
}

}  // namespace

extern const FdKind kTtyKind{"terminal", matches, dump, restore, {image::FileKind::Tty}, nullptr};

}  // namespace ckpt::tty
