// The tty layer's part in a restore: the pty pairs the tree held, made again
// before its processes (so each session leader can take its controlling
// terminal before its children exist), the foreground groups, and the
// user's terminal for `--shell-job`.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "core/layers/Layer.hpp"
#include "core/util/UniqueFd.hpp"
#include "tty/pty/PtyState.hpp"

namespace ckpt::tty {

// The terminal the tree was started from, as saved by `dump --shell-job`.
struct SavedTerminal {
  std::string path;
  Termios termios;
  winsize size{};
};

class TtyRestore : public LayerRestore {
 public:
  TtyRestore(const image::Image& img, bool shellJob);
  ~TtyRestore() override;
  // The restore in progress (the fd kind reaches its pairs through it).
  static TtyRestore& active();

  PtyPair& pair(int savedIndex);
  // A new open file description of the terminal ckpt runs in.
  UniqueFd openTerminal(int flags);

  void sessionLeader(RestoredProcess& p) override;
  void treeBuilt(std::deque<RestoredProcess>& procs, const ScratchLayout& scratch) override;
  void treeRunning(const image::Image& img, pid_t root) override;

 private:
  std::map<int, std::unique_ptr<PtyPair>> pairs_;  // saved index -> new pair
  std::map<int, PtyState> states_;
  std::optional<SavedTerminal> terminal_;
  std::string terminalPath_;  // ckpt's own terminal (--shell-job)
  bool shellJob_ = false;
};

class TtyLayer : public Layer {
 public:
  const char* name() const override { return "tty"; }
  std::unique_ptr<LayerRestore> beginRestore(const image::Image& img,
                                             const RestoreRequest& req) override;
};

}  // namespace ckpt::tty
