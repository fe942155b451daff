// How each kind of open file is saved and brought back. One file per kind
// under core/fds/ (RegularFile.cpp, Pipe.cpp, ...), each with its dump and
// restore side by side, listed once in Registry.cpp.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/image/Model.hpp"
#include "core/proc/ProcParsers.hpp"
#include "core/ptrace/RemotePtr.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt {

namespace image {
class ImageWriter;
}

// One fd of a frozen process, as ckpt sees it through its own duplicate.
struct FdProbe {
  pid_t pid = 0;
  int fd = 0;
  UniqueFd local;  // the same open file description, duplicated into ckpt
  struct stat st {};
  std::string link;  // readlink of /proc/PID/fd/FD
  proc::FdInfo info;

  int accessMode() const;
};

// Image-wide state of a dump: the descriptions seen so far, and the image.
struct FdDumpContext {
  image::Image& image;
  image::ImageWriter& writer;
  // Descriptions already saved, with ckpt's duplicate of each (for kcmp).
  std::vector<std::pair<int, UniqueFd>> seen;  // file id -> local fd
  // Fds the user marked external (`ckpt dump --external PID:FD`).
  std::vector<std::pair<pid_t, int>> externals{};
  // Checks that need every fd of the tree (is a socket's peer inside it?):
  // a kind's dump adds one (once), the dump runs them after the last process.
  std::vector<void (*)(FdDumpContext&)> finishers{};
  // `ckpt dump --tcp-close`: every TCP connection to outside the tree comes
  // back as closed by its peer, as if each were named by --external.
  bool tcpClose = false;
  // `ckpt dump --unix-close`: the same for unix sockets (a server's clients).
  bool unixClose = false;
  // `ckpt dump --shell-job`: the terminal the tree was started from (outside
  // it) is saved as "the user's terminal", to be replaced at restore.
  bool shellJob = false;
  // Whether the user or a hook named this fd as external.
  bool isExternal(pid_t pid, int fd) const {
    for (auto& [p, f] : externals)
      if (p == pid && f == fd) return true;
    return false;
  }
};

class SharedObjects;

// Image-wide state of a restore: descriptions made so far, pipes by id.
struct FdRestoreContext {
  const image::Image& image;
  std::string imageDir;
  std::map<int, UniqueFd> files;                       // FileDesc::id -> ckpt's fd
  std::map<int, std::pair<UniqueFd, UniqueFd>> pipes;  // Pipe::id -> read end, write end
  std::vector<UniqueFd> keepUntilDone;                 // helpers closed once the tree is back
  const SharedObjects* objects = nullptr;              // memory objects made for this restore
};

class RemoteSyscalls;

// Injected calls into a process being restored, with room for arguments.
struct FdInstallContext {
  pid_t pid;
  RemoteSyscalls& calls;
  RemotePtr scratch;  // free for the hook's arguments
  size_t scratchSize;
  // fd number in this process -> FileDesc::id, for every fd it has.
  const std::vector<image::FdEntry>& fds;
  // The whole image, to look up the descriptions behind those fds (epoll
  // restores the registrations of a nested epoll before registering it).
  const image::Image& image;
};

struct FdKind {
  const char* name;
  // Whether this kind handles the probed fd.
  bool (*matches)(const FdProbe& probe);
  // Fills `desc` (id, flags and pos are already set); may store data in the image.
  void (*dump)(FdProbe& probe, image::FileDesc& desc, FdDumpContext& ctx);
  // Makes the open file description in ckpt.
  UniqueFd (*restore)(const image::FileDesc& desc, FdRestoreContext& ctx);
  // The image kinds this entry restores.
  std::vector<image::FileKind> kinds;
  // Optional: state kept in the process's fd numbers (epoll registrations),
  // set from inside the process once all of its fds are in place.
  void (*afterInstall)(const image::FileDesc& desc, int fd, FdInstallContext& ctx) = nullptr;
};

const std::vector<const FdKind*>& fdKinds();
// A session layer adds the kinds it owns (tty/: terminals) at startup.
void registerFdKind(const FdKind& kind);
const FdKind& fdKindFor(image::FileKind kind);

// Saves one fd of a process: finds the description if another fd shares it,
// otherwise asks the matching kind. Throws an Error naming pid, fd and kind
// when no kind can save it.
image::FdEntry dumpFd(FdProbe& probe, FdDumpContext& ctx);

// Reads a file the dump wrote into the image (a pipe's bytes, a deleted
// file's content): exactly `size` bytes, or an Error naming the file.
std::string readImageFile(const std::string& path, size_t size);

// Reopens a path the way it was opened at dump, at its saved offset.
UniqueFd reopenAt(const image::FileDesc& desc, int extraFlags = 0);

}  // namespace ckpt
