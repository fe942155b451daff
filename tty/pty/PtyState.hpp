// One pseudo-terminal pair as the image holds it, read from a frozen tree and
// made again at restore: modes, size, packet and exclusive mode, the session
// and foreground group it serves, and the bytes in flight both ways.
#pragma once

#include <sys/ioctl.h>
#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "core/util/UniqueFd.hpp"
#include "tty/pty/Termios.hpp"

namespace ckpt::tty {

struct PtyState {
  int index = -1;  // N of /dev/pts/N at dump
  Termios termios;
  std::optional<Termios> locked;  // when any mode is locked
  winsize size{};
  bool packet = false;       // TIOCPKT on the master
  bool exclusive = false;    // TIOCEXCL on the slave
  pid_t sid = 0;             // session whose controlling terminal it is, 0: none
  pid_t foreground = 0;      // its foreground process group
  std::string output;        // written by the slave side, not yet read from the master
  std::string input;         // written to the master, not yet read from the slave
  bool slaveClosed = false;  // every slave fd was closed (the master reads EOF/EIO)
};

// Reads the pair behind `master` (ckpt's duplicate of a frozen process's
// master fd). The queued bytes are taken out and put straight back, so the
// tree finds them as they were. `pid`/`fd` name it in messages.
PtyState readPtyState(int master, pid_t pid, int fd);

nlohmann::json toJson(const PtyState& s);
PtyState ptyStateFromJson(const nlohmann::json& j);

// A new pair made with a saved state. Holds the master and one slave fd.
class PtyPair {
 public:
  explicit PtyPair(const PtyState& state);
  int master() const { return master_.get(); }
  int slave() const { return slave_.get(); }
  // Another open file description of the slave (what open("/dev/pts/N") gives).
  UniqueFd openSlave(int flags) const;
  int index() const { return index_; }
  // Drops ckpt's own slave fd, so a pair whose slave side the tree had closed
  // reads EOF/EIO on the master again.
  void closeSlave() { slave_.reset(); }

 private:
  UniqueFd master_, slave_;
  int index_ = -1;
};

// The pty index of a terminal device number (/dev/pts/N: N), or -1 when it
// is not a pty slave.
int ptySlaveIndex(dev_t rdev);
// The kernel's 32-bit device encoding (stat's tty_nr, TIOCGDEV) as a dev_t.
dev_t decodeDevice(uint32_t encoded);

}  // namespace ckpt::tty
