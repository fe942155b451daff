#include "tty/pty/PtyState.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt::tty {
namespace {

// Unix98 pty slave majors: 136-143, 256 minors each.
constexpr unsigned kSlaveMajor = 136, kMajors = 8;

int queued(int fd) {
  int n = 0;
  if (ioctl(fd, FIONREAD, &n) != 0) throwErrno("FIONREAD on a terminal");
  return n;
}

// O_CLOEXEC is not passed to TIOCGPTPEER: there it would stay in the open
// file description's flags, and every fd of the restored program sharing it
// would look close-on-exec to the next dump. It is set on ckpt's fd alone.
UniqueFd openPeer(int master, int flags) {
  UniqueFd fd(ioctl(master, TIOCGPTPEER, (flags & ~O_CLOEXEC) | O_NOCTTY));
  if (!fd) throwErrno("opening the slave of a pty (TIOCGPTPEER)");
  fcntl(fd.get(), F_SETFD, FD_CLOEXEC);
  return fd;
}

std::string readExactly(int fd, size_t n, const char* what) {
  std::string data(n, '\0');
  size_t done = 0;
  while (done < n) {
    ssize_t r = read(fd, data.data() + done, n - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throwErrno(fmt::format("reading the {} queued on a terminal", what));
    done += size_t(r);
  }
  return data;
}

void writeAll(int fd, const std::string& data, const char* what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w = write(fd, data.data() + done, data.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) {
      pollfd p{fd, POLLOUT, 0};
      if (poll(&p, 1, 2000) <= 0)
        throw Error(
            fmt::format("putting {} bytes of {} back into a terminal: no room (is its "
                        "output stopped with Ctrl-S?)",
                        data.size(), what));
      continue;
    }
    if (w <= 0) throwErrno(fmt::format("putting {} back into a terminal", what));
    done += size_t(w);
  }
}

// Bytes written to one side reach the other side's queue through the
// kernel's flip buffer, asynchronously: wait until they are all there, so
// the modes they were written under still hold when they are processed.
void awaitQueued(int fd, int expected, const char* what) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (queued(fd) < expected) {
    if (std::chrono::steady_clock::now() > deadline)
      throw Error(fmt::format("{} put back into a terminal did not arrive ({} of {} bytes)", what,
                              queued(fd), expected));
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

std::string hex(const std::string& s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string unhex(const std::string& s, const char* what) {
  auto val = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    throw Error(fmt::format("manifest: tty {}: not hex", what));
  };
  if (s.size() % 2) throw Error(fmt::format("manifest: tty {}: odd hex length", what));
  std::string out(s.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) out[i] = char(val(s[2 * i]) << 4 | val(s[2 * i + 1]));
  return out;
}

}  // namespace

int ptySlaveIndex(dev_t rdev) {
  unsigned ma = major(rdev);
  if (ma < kSlaveMajor || ma >= kSlaveMajor + kMajors) return -1;
  return int((ma - kSlaveMajor) * 256 + minor(rdev));
}

dev_t decodeDevice(uint32_t v) {
  return makedev((v & 0xfff00) >> 8, (v & 0xff) | ((v >> 12) & 0xfff00));
}

PtyState readPtyState(int master, pid_t pid, int fd) {
  PtyState s;
  if (ioctl(master, TIOCGPTN, &s.index) != 0)
    throwErrno(fmt::format("pid {} fd {}: reading the pty number (TIOCGPTN)", pid, fd));
  pollfd p{master, POLLIN, 0};
  s.slaveClosed = poll(&p, 1, 0) == 1 && (p.revents & POLLHUP);
  UniqueFd slave = openPeer(master, O_RDWR | O_NONBLOCK);
  s.termios = getTermios(master);
  Termios locked = getLockedTermios(master);
  if (!(locked == Termios{})) s.locked = locked;
  if (ioctl(master, TIOCGWINSZ, &s.size) != 0) throwErrno("TIOCGWINSZ");
  int flag = 0;
  if (ioctl(master, TIOCGPKT, &flag) != 0) throwErrno("TIOCGPKT");
  s.packet = flag != 0;
  flag = 0;
  if (ioctl(slave.get(), TIOCGEXCL, &flag) != 0) throwErrno("TIOCGEXCL");
  s.exclusive = flag != 0;
  if (ioctl(master, TIOCGSID, &s.sid) != 0) s.sid = 0;  // nobody's controlling terminal
  if (s.sid == 0 || ioctl(master, TIOCGPGRP, &s.foreground) != 0) s.foreground = 0;

  // Packet mode off while the queues are handled: no status byte in front of
  // the data read, and no flow-control status for the mode changes below
  // (turning it on again clears the status, as a fresh pair has).
  int off = 0, on = 1;
  if (s.packet) ioctl(master, TIOCPKT, &off);
  // Output the master's holder has not read yet: take it, put it back from
  // the slave side with output processing off (it was processed already).
  if (int n = queued(master); n > 0) {
    s.output = readExactly(master, size_t(n), "output");
    setTermios(slave.get(), s.termios.noOutputProcessing());
    writeAll(slave.get(), s.output, "output");
    awaitQueued(master, n, "output");
    setTermios(slave.get(), s.termios);
  }
  // Input the slave's reader has not read yet. In canonical mode a line
  // being typed cannot be read without turning it into a finished one, so
  // that queue stays where it is and is not saved.
  if (int n = queued(slave.get()); n > 0) {
    if (s.termios.canonical()) {
      log::warn("pid {} fd {}: {} bytes of typed-ahead lines on /dev/pts/{} are not saved", pid, fd,
                n, s.index);
    } else {
      s.input = readExactly(slave.get(), size_t(n), "input");
      setTermios(slave.get(), s.termios.raw());
      writeAll(master, s.input, "input");
      awaitQueued(slave.get(), n, "input");
      setTermios(slave.get(), s.termios);
    }
  }
  if (s.packet) ioctl(master, TIOCPKT, &on);
  return s;
}

nlohmann::json toJson(const PtyState& s) {
  return {{"index", s.index},
          {"termios", toJson(s.termios)},
          {"locked", s.locked ? toJson(*s.locked) : nlohmann::json()},
          {"size", {s.size.ws_row, s.size.ws_col, s.size.ws_xpixel, s.size.ws_ypixel}},
          {"packet", s.packet},
          {"exclusive", s.exclusive},
          {"sid", s.sid},
          {"foreground", s.foreground},
          {"output", hex(s.output)},
          {"input", hex(s.input)},
          {"slave_closed", s.slaveClosed}};
}

PtyState ptyStateFromJson(const nlohmann::json& j) {
  try {
    PtyState s;
    s.index = j.at("index").get<int>();
    s.termios = termiosFromJson(j.at("termios"), "pty modes");
    if (!j.at("locked").is_null()) s.locked = termiosFromJson(j.at("locked"), "locked modes");
    auto size = j.at("size").get<std::array<unsigned short, 4>>();
    s.size = {size[0], size[1], size[2], size[3]};
    s.packet = j.at("packet").get<bool>();
    s.exclusive = j.at("exclusive").get<bool>();
    s.sid = j.at("sid").get<pid_t>();
    s.foreground = j.at("foreground").get<pid_t>();
    s.output = unhex(j.at("output").get<std::string>(), "output");
    s.input = unhex(j.at("input").get<std::string>(), "input");
    s.slaveClosed = j.at("slave_closed").get<bool>();
    return s;
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("manifest: layers.tty: a pty is not as saved ({})", e.what()));
  }
}

PtyPair::PtyPair(const PtyState& s) : index_(-1) {
  master_ = UniqueFd(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master_) throwErrno("opening /dev/ptmx for a new pty");
  int unlock = 0;
  if (ioctl(master(), TIOCSPTLCK, &unlock) != 0) throwErrno("unlocking a new pty");
  if (ioctl(master(), TIOCGPTN, &index_) != 0) throwErrno("TIOCGPTN on a new pty");
  slave_ = openPeer(master(), O_RDWR | O_NONBLOCK);
  if (!s.output.empty()) {
    setTermios(slave(), s.termios.noOutputProcessing());
    writeAll(slave(), s.output, "output");
    awaitQueued(master(), int(s.output.size()), "output");
  }
  if (!s.input.empty()) {
    setTermios(slave(), s.termios.raw());
    writeAll(master(), s.input, "input");
    awaitQueued(slave(), int(s.input.size()), "input");
  }
  setTermios(slave(), s.termios);
  if (s.locked && !setLockedTermios(master(), *s.locked))
    log::warn("pty {} (now /dev/pts/{}): its locked modes need CAP_SYS_ADMIN; left unlocked",
              s.index, index_);
  if (ioctl(master(), TIOCSWINSZ, &s.size) != 0) throwErrno("TIOCSWINSZ on a new pty");
  int pkt = s.packet;
  if (ioctl(master(), TIOCPKT, &pkt) != 0) throwErrno("TIOCPKT on a new pty");
  if (s.exclusive && ioctl(slave(), TIOCEXCL) != 0) throwErrno("TIOCEXCL on a new pty");
}

UniqueFd PtyPair::openSlave(int flags) const {
  return openPeer(master(), flags & ~O_CLOEXEC);
}

}  // namespace ckpt::tty
