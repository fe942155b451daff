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

const std::vector<const FdKind*>& fdKinds() {
  static const std::vector<const FdKind*> kinds{
      &kRegularFileKind, &kMemfdKind,   &kDeletedFileKind, &kPipeKind,
      &kCharDeviceKind,  &kEventfdKind, &kTimerfdKind,     &kSignalfdKind,
      &kInotifyKind,     &kEpollKind,   &kUnixSocketKind,  &kInetSocketKind,
  };
  return kinds;
}

}  // namespace ckpt
