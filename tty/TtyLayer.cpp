#include "tty/TtyLayer.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/restore/RestoredProcess.hpp"
#include "core/restore/Restorer.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "tty/shelljob/NoTtou.hpp"
#include "tty/shelljob/WinchReplay.hpp"

namespace ckpt::tty {
namespace {

TtyRestore* gActive = nullptr;

int slaveIndexOfCtty(const image::Process& p) {
  return p.ctty ? ptySlaveIndex(decodeDevice(uint32_t(p.ctty))) : -1;
}

// The first external terminal fd of the image, to name it in messages.
const image::FileDesc* firstExternal(const image::Image& img) {
  for (const auto& d : img.files)
    if (d.kind == image::FileKind::Tty && d.state.value("role", "") == "external") return &d;
  return nullptr;
}

std::string ownTerminal() {
  for (int fd : {0, 1, 2})
    if (isatty(fd)) {
      char name[256];
      if (ttyname_r(fd, name, sizeof name) == 0) return name;
    }
  return "";
}

}  // namespace

TtyRestore& TtyRestore::active() {
  if (!gActive) throw Error("manifest: a terminal fd outside of any terminal restore");
  return *gActive;
}

TtyRestore::TtyRestore(const image::Image& img, bool shellJob) : shellJob_(shellJob) {
  auto it = img.layers.find("tty");
  if (it != img.layers.end()) {
    const auto& j = it->second;
    if (!j.contains("ptys") || !j["ptys"].is_array())
      throw Error("manifest: layers.tty.ptys: missing or not an array");
    for (const auto& pj : j["ptys"]) {
      PtyState s = ptyStateFromJson(pj);
      states_[s.index] = s;
    }
    if (j.contains("terminal") && !j["terminal"].is_null()) {
      const auto& t = j["terminal"];
      SavedTerminal st;
      st.path = t.value("path", "");
      st.termios = termiosFromJson(t.at("termios"), "layers.tty.terminal");
      auto size = t.at("size").get<std::array<unsigned short, 4>>();
      st.size = {size[0], size[1], size[2], size[3]};
      terminal_ = st;
    }
  }
  if (const auto* ext = firstExternal(img)) {
    if (!shellJob)
      throw Error(fmt::format(
          "the image holds the terminal its tree was started from ({} of pid {}); restore it "
          "with --shell-job, in the terminal it should take over",
          ext->path, ext->state["holder"][0].get<pid_t>()));
    terminalPath_ = ownTerminal();
    if (terminalPath_.empty())
      throw Error(
          "--shell-job: ckpt restore runs on no terminal (stdin, stdout and stderr are "
          "not terminals); run it in the terminal the program should take over");
  }
  if (shellJob && terminalPath_.empty()) terminalPath_ = ownTerminal();
  // The pairs exist before the first process: every stub is a copy of ckpt
  // and inherits them, so a session leader can take its controlling
  // terminal on a fd number it already has.
  for (auto& [index, s] : states_) pairs_[index] = std::make_unique<PtyPair>(s);
  gActive = this;
}

TtyRestore::~TtyRestore() {
  if (gActive == this) gActive = nullptr;
}

PtyPair& TtyRestore::pair(int savedIndex) {
  auto it = pairs_.find(savedIndex);
  if (it == pairs_.end())
    throw Error(
        fmt::format("manifest: a fd names pty {} which layers.tty does not hold", savedIndex));
  return *it->second;
}

UniqueFd TtyRestore::openTerminal(int flags) {
  UniqueFd fd(::open(terminalPath_.c_str(), flags | O_NOCTTY | O_CLOEXEC));
  if (!fd) throwErrno(fmt::format("--shell-job: opening the terminal {}", terminalPath_));
  return fd;
}

void TtyRestore::sessionLeader(RestoredProcess& p) {
  int idx = slaveIndexOfCtty(*p.img);
  if (idx < 0 || !pairs_.count(idx)) return;
  p.main->check(fmt::format("pid {}: taking /dev/pts/{} as controlling terminal", p.pid,
                            pairs_[idx]->index()),
                SYS_ioctl, uint64_t(pairs_[idx]->slave()), TIOCSCTTY, 0);
}

void TtyRestore::treeBuilt(std::deque<RestoredProcess>& procs, const ScratchLayout& scratch) {
  for (auto& [index, s] : states_) {
    if (!s.sid || !s.foreground) continue;
    RestoredProcess* caller = nullptr;
    bool groupExists = false;
    for (auto& rp : procs) {
      if (rp.img->zombie) continue;
      if (rp.img->pgid == s.foreground) groupExists = true;
      if (!caller && rp.img->sid == s.sid && slaveIndexOfCtty(*rp.img) == index) caller = &rp;
    }
    if (!caller || !groupExists) {
      log::warn("/dev/pts/{}: its foreground group {} is not restored; left to its session", index,
                s.foreground);
      continue;
    }
    RemoteMemory mem(caller->pid);
    mem.writeValue(scratch.data(), int32_t(s.foreground));
    caller->main->check(fmt::format("pid {}: making group {} the foreground of /dev/pts/{}",
                                    caller->pid, s.foreground, pairs_[index]->index()),
                        SYS_ioctl, uint64_t(pairs_[index]->slave()), TIOCSPGRP,
                        scratch.data().addr());
  }
}

void TtyRestore::treeRunning(const image::Image& img, pid_t root) {
  if (!shellJob_ || terminalPath_.empty()) return;
  UniqueFd term(::open(terminalPath_.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!term) {
    log::warn("--shell-job: cannot open {}: {}", terminalPath_, strerror(errno));
    return;
  }
  NoTtou noTtou;
  if (terminal_) {
    try {
      setTermios(term.get(), terminal_->termios);
    } catch (const Error& e) {
      log::warn("--shell-job: {}: {}", terminalPath_, e.what());
    }
  }
  pid_t pgid = getpgid(root);
  if (tcsetpgrp(term.get(), pgid) != 0)
    log::warn("--shell-job: cannot make the restored tree (group {}) the foreground job of {}: {}",
              pgid, terminalPath_, strerror(errno));
  // A program under `ckpt run` repaints from its own model when its hook
  // hears `restarted`; any other is asked to redraw by a resize.
  for (const auto& h : img.hooks)
    if (h.name.rfind("ckpt-hook:run:", 0) == 0) return;
  std::vector<pid_t> tree;
  for (const auto& p : img.processes)
    if (!p.zombie) tree.push_back(p.pid);
  replayWinch(term.get(), tree);
}

std::unique_ptr<LayerRestore> TtyLayer::beginRestore(const image::Image& img,
                                                     const RestoreRequest& req) {
  return std::make_unique<TtyRestore>(img, req.shellJob);
}

}  // namespace ckpt::tty
