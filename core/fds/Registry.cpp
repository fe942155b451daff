// The list of file kinds ckpt can save: add a kind here after writing its file.
#include "core/fds/FdKind.hpp"

namespace ckpt {

extern const FdKind kRegularFileKind;
extern const FdKind kMemfdKind;
extern const FdKind kDeletedFileKind;
extern const FdKind kPipeKind;
extern const FdKind kCharDeviceKind;
extern const FdKind kUnixSocketKind;
extern const FdKind kEventfdKind;
extern const FdKind kTimerfdKind;
extern const FdKind kSignalfdKind;
extern const FdKind kInotifyKind;
extern const FdKind kEpollKind;
extern const FdKind kInetSocketKind;

static std::vector<const FdKind*>& kindList() {
  static std::vector<const FdKind*> kinds{
      &kRegularFileKind, &kMemfdKind,   &kDeletedFileKind, &kPipeKind,
      &kCharDeviceKind,  &kEventfdKind, &kTimerfdKind,     &kSignalfdKind,
      &kInotifyKind,     &kEpollKind,   &kUnixSocketKind,  &kInetSocketKind,
  };
  return kinds;
}

const std::vector<const FdKind*>& fdKinds() {
  return kindList();
}

void registerFdKind(const FdKind& kind) {
  auto& kinds = kindList();
  for (const FdKind* k : kinds)
    if (k == &kind) return;
  // Ahead of core's own: a layer's kind is more specific (a terminal is
  // also a character device).
  kinds.insert(kinds.begin(), &kind);
}

}  // namespace ckpt
