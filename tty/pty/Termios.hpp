// A terminal's modes exactly as the kernel holds them (struct termios2:
// flags, line discipline, control characters, speeds), read and set with raw
// ioctls so nothing is translated on the way, and kept in the image as JSON.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>

namespace ckpt::tty {

struct Termios {
  uint32_t iflag = 0, oflag = 0, cflag = 0, lflag = 0;
  uint8_t line = 0;
  std::array<uint8_t, 19> cc{};
  uint32_t ispeed = 0, ospeed = 0;

  bool canonical() const;
  // The same modes with no input or output processing, no echo, no signals:
  // bytes put back into a queue must land there exactly as they were.
  Termios raw() const;
  // The same modes with output processing off (OPOST): bytes written to the
  // slave reach the master unchanged.
  Termios noOutputProcessing() const;
  bool operator==(const Termios&) const = default;
};

// The modes of the terminal behind `fd` (a pty master gives its slave's).
Termios getTermios(int fd);
// Sets them at once (TCSETS2: no drain, no flush). Throws on error.
void setTermios(int fd, const Termios& t);

// Locked modes (TIOCGLCKTRMIOS): which bits a program may not change. Only
// flags and characters; all zero when nothing is locked.
Termios getLockedTermios(int fd);
// Needs CAP_SYS_ADMIN; returns false (and changes nothing) without it.
bool setLockedTermios(int fd, const Termios& t);

nlohmann::json toJson(const Termios& t);
// Throws an Error naming `what` when the object is not a saved termios.
Termios termiosFromJson(const nlohmann::json& j, const char* what);

}  // namespace ckpt::tty
