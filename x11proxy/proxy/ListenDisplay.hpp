// A display number of the proxy's own: the lock file /tmp/.XN-lock and the
// listening sockets /tmp/.X11-unix/XN (a path and the abstract name), all
// given back when the object goes.
#pragma once

#include <string>

#include "core/util/UniqueFd.hpp"

namespace ckpt::x11 {

class ListenDisplay {
 public:
  // Takes a free display number from `first` to `first` + 999, looking
  // first at one chosen by the process id: a proxy dumped with --kill leaves
  // its number looking free until it is restored, and another proxy started
  // meanwhile should not take it (the restore would find it taken).
  // From :1000 on: clear of real servers (:0 up), VNC desktops and the
  // numbers other tools pick by their own pids.
  explicit ListenDisplay(int first = 1000);
  ~ListenDisplay();
  ListenDisplay(const ListenDisplay&) = delete;
  ListenDisplay& operator=(const ListenDisplay&) = delete;

  int number() const { return number_; }
  int pathFd() const { return path_.get(); }
  int abstractFd() const { return abstract_.get(); }

 private:
  bool tryTake(int n);
  int number_ = -1;
  std::string lockPath_, socketPath_;
  UniqueFd path_, abstract_;
};

// A private Xauthority file (in a 0700 directory of its own, the file 0600)
// holding one fresh MIT-MAGIC-COOKIE-1 for the display.
class AuthFile {
 public:
  explicit AuthFile(int display);
  ~AuthFile();
  AuthFile(const AuthFile&) = delete;
  AuthFile& operator=(const AuthFile&) = delete;

  const std::string& path() const { return path_; }
  const std::string& cookie() const { return cookie_; }  // 16 raw bytes

 private:
  std::string dir_, path_, cookie_;
};

}  // namespace ckpt::x11
