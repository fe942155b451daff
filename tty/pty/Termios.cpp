// Kept apart from <termios.h>: the kernel's struct termios2 (asm/termbits.h)
// and libc's struct termios cannot share a translation unit.
#include "tty/pty/Termios.hpp"

#include <asm/termbits.h>
#include <sys/ioctl.h>

#include <cstring>
#include <type_traits>

#include "core/util/Error.hpp"

namespace ckpt::tty {
namespace {

// struct termios2 (TCGETS2) and the older struct termios (locked modes)
// differ only in the speeds at the end.
template <class K>
Termios fromKernel(const K& k) {
  Termios t;
  t.iflag = k.c_iflag;
  t.oflag = k.c_oflag;
  t.cflag = k.c_cflag;
  t.lflag = k.c_lflag;
  t.line = k.c_line;
  static_assert(sizeof k.c_cc == sizeof t.cc);
  std::memcpy(t.cc.data(), k.c_cc, sizeof k.c_cc);
  if constexpr (std::is_same_v<K, termios2>) {
    t.ispeed = k.c_ispeed;
    t.ospeed = k.c_ospeed;
  }
  return t;
}

template <class K>
K toKernel(const Termios& t) {
  K k{};
  k.c_iflag = t.iflag;
  k.c_oflag = t.oflag;
  k.c_cflag = t.cflag;
  k.c_lflag = t.lflag;
  k.c_line = t.line;
  std::memcpy(k.c_cc, t.cc.data(), sizeof k.c_cc);
  if constexpr (std::is_same_v<K, termios2>) {
    k.c_ispeed = t.ispeed;
    k.c_ospeed = t.ospeed;
  }
  return k;
}

}  // namespace

bool Termios::canonical() const {
  return (lflag & ICANON) != 0;
}

Termios Termios::raw() const {
  Termios r = *this;
  r.iflag &= ~uint32_t(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IUCLC);
  r.oflag &= ~uint32_t(OPOST);
  r.lflag &= ~uint32_t(ECHO | ECHOE | ECHOK | ECHONL | ICANON | ISIG | IEXTEN);
  r.cc[VMIN] = 1;
  r.cc[VTIME] = 0;
  return r;
}

Termios Termios::noOutputProcessing() const {
  Termios r = *this;
  r.oflag &= ~uint32_t(OPOST);
  return r;
}

Termios getTermios(int fd) {
  termios2 k{};
  if (ioctl(fd, TCGETS2, &k) != 0) throwErrno("reading terminal modes (TCGETS2)");
  return fromKernel(k);
}

void setTermios(int fd, const Termios& t) {
  termios2 k = toKernel<termios2>(t);
  if (ioctl(fd, TCSETS2, &k) != 0) throwErrno("setting terminal modes (TCSETS2)");
}

Termios getLockedTermios(int fd) {
  struct termios k {};
  if (ioctl(fd, TIOCGLCKTRMIOS, &k) != 0) throwErrno("reading locked terminal modes");
  return fromKernel(k);
}

bool setLockedTermios(int fd, const Termios& t) {
  struct termios k = toKernel<struct termios>(t);
  if (ioctl(fd, TIOCSLCKTRMIOS, &k) == 0) return true;
  if (errno == EPERM) return false;
  throwErrno("setting locked terminal modes");
}

nlohmann::json toJson(const Termios& t) {
  return {{"iflag", t.iflag}, {"oflag", t.oflag}, {"cflag", t.cflag},   {"lflag", t.lflag},
          {"line", t.line},   {"cc", t.cc},       {"ispeed", t.ispeed}, {"ospeed", t.ospeed}};
}

Termios termiosFromJson(const nlohmann::json& j, const char* what) {
  try {
    Termios t;
    t.iflag = j.at("iflag").get<uint32_t>();
    t.oflag = j.at("oflag").get<uint32_t>();
    t.cflag = j.at("cflag").get<uint32_t>();
    t.lflag = j.at("lflag").get<uint32_t>();
    t.line = j.at("line").get<uint8_t>();
    t.cc = j.at("cc").get<std::array<uint8_t, 19>>();
    t.ispeed = j.at("ispeed").get<uint32_t>();
    t.ospeed = j.at("ospeed").get<uint32_t>();
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("manifest: ") + what + ": not a saved terminal mode set (" + e.what() +
                ")");
  }
}

}  // namespace ckpt::tty
