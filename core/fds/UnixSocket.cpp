// Unix domain sockets of every type: names, peers, listeners with their
// backlog, queued data (read with MSG_PEEK stepping SO_PEEK_OFF, so nothing
// is consumed), shutdown state and the options that change behaviour.
//
// Restore makes every socket in ckpt. A connected pair comes back as a
// socketpair, or through its listener (connect + accept) when one end was
// accepted from a listener of the tree, so the accepted end keeps the
// listener's name; the backlog is refilled by connecting the clients (or
// stand-ins for clients that are gone) in queue order. A socket whose peer
// was closed, or is outside the tree (--external), comes back paired with a
// stand-in that is closed once the queued data is in. Every socket made on
// the way is put in FdRestoreContext::files, so a peer is made once.
#define _GNU_SOURCE 1
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/fds/SockDiag.hpp"
#include "core/image/Checksum.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/proc/ProcFiles.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PASSRIGHTS
#define SO_PASSRIGHTS 83
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif

namespace ckpt {
namespace {

using Json = nlohmann::json;

constexpr int kTcpListen = 10;
constexpr int kRcvShutdown = 1;

// ---- Names -----------------------------------------------------------------

std::string toHex(const std::string& s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) out += fmt::format("{:02x}", c);
  return out;
}

std::string fromHex(const std::string& h) {
  if (h.size() % 2) throw Error("manifest: a unix socket name has an odd number of hex digits");
  std::string out;
  for (size_t i = 0; i < h.size(); i += 2) out += char(std::stoi(h.substr(i, 2), nullptr, 16));
  return out;
}

bool isAbstract(const std::string& raw) {
  return !raw.empty() && raw[0] == '\0';
}

// A path name without its terminating NUL.
std::string pathOf(const std::string& raw) {
  return raw.substr(0, raw.find('\0'));
}

// For messages: the path, or "@name" with unprintable bytes escaped.
std::string showName(const std::string& raw) {
  if (raw.empty()) return "an unnamed socket";
  if (!isAbstract(raw)) return pathOf(raw);
  std::string out = "@";
  for (unsigned char c : raw.substr(1))
    out += std::isprint(c) ? std::string(1, char(c)) : fmt::format("\\x{:02x}", c);
  return out;
}

struct Address {
  sockaddr_un sa{};
  socklen_t len = 0;
};

Address addressOf(const std::string& raw) {
  Address a;
  a.sa.sun_family = AF_UNIX;
  if (raw.size() > sizeof a.sa.sun_path)
    throw Error(fmt::format("unix socket name {} is too long", showName(raw)));
  std::memcpy(a.sa.sun_path, raw.data(), raw.size());
  a.len = socklen_t(offsetof(sockaddr_un, sun_path) + raw.size());
  return a;
}

std::optional<std::string> peerNameOf(int fd) {
  Address a;
  a.len = sizeof a.sa;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a.sa), &a.len) != 0) return std::nullopt;
  size_t n = a.len > offsetof(sockaddr_un, sun_path) ? a.len - offsetof(sockaddr_un, sun_path) : 0;
  return std::string(a.sa.sun_path, n);
}

// ---- Socket options ----------------------------------------------------------

std::optional<int> intOption(int fd, int opt) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) != 0) return std::nullopt;
  return v;
}

struct IntOption {
  const char* key;
  int opt;
};
// Plain integer options that change what the program sees; each is saved
// when the kernel knows it and set back when it differs from a new socket's.
constexpr IntOption kIntOptions[] = {
    {"passcred", SO_PASSCRED},     {"passsec", SO_PASSSEC},   {"passpidfd", SO_PASSPIDFD},
    {"passrights", SO_PASSRIGHTS}, {"rcvlowat", SO_RCVLOWAT}, {"timestamp", SO_TIMESTAMP},
};
struct TimeOption {
  const char* key;
  int opt;
};
constexpr TimeOption kTimeOptions[] = {{"rcvtimeo_us", SO_RCVTIMEO}, {"sndtimeo_us", SO_SNDTIMEO}};

Json dumpOptions(int fd) {
  Json o = Json::object();
  for (const auto& io : kIntOptions)
    if (auto v = intOption(fd, io.opt)) o[io.key] = *v;
  for (const auto& t : kTimeOptions) {
    timeval tv{};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, t.opt, &tv, &len) == 0)
      o[t.key] = int64_t(tv.tv_sec) * 1000000 + tv.tv_usec;
  }
  for (auto [key, opt] : {std::pair{"rcvbuf", SO_RCVBUF}, std::pair{"sndbuf", SO_SNDBUF}})
    if (auto v = intOption(fd, opt)) o[key] = *v;
  if (auto v = intOption(fd, SO_PEEK_OFF)) o["peek_off"] = *v;
  return o;
}

// Sets a buffer size to exactly `want` (as getsockopt reports it, doubled).
void setBuffer(int fd, int opt, int forceOpt, int want, const std::string& who) {
  if (intOption(fd, opt) == want) return;
  int half = want / 2;
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &half, sizeof half) != 0 &&
      setsockopt(fd, SOL_SOCKET, opt, &half, sizeof half) != 0)
    throwErrno(fmt::format("{}: setting {} to {}", who,
                           opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF", want));
  if (auto got = intOption(fd, opt); got != want)
    log::warn("{}: {} is {} instead of {} (raise net.core.{}mem_max, or restore as root)", who,
              opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF", got.value_or(-1), want,
              opt == SO_SNDBUF ? "w" : "r");
}

void restoreOptions(int fd, const Json& o, const std::string& who) {
  for (const auto& io : kIntOptions) {
    if (!o.contains(io.key)) continue;
    int want = o[io.key].get<int>();
    auto now = intOption(fd, io.opt);
    if (now == want) continue;
    if (!now || setsockopt(fd, SOL_SOCKET, io.opt, &want, sizeof want) != 0) {
      // Only a missing option of a newer kernel is tolerable, and only at its default.
      log::warn("{}: cannot set socket option {} to {} on this kernel", who, io.key, want);
    }
  }
  for (const auto& t : kTimeOptions) {
    if (!o.contains(t.key)) continue;
    int64_t us = o[t.key].get<int64_t>();
    timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
    if (us && setsockopt(fd, SOL_SOCKET, t.opt, &tv, sizeof tv) != 0)
      throwErrno(fmt::format("{}: setting {}", who, t.key));
  }
  if (o.contains("sndbuf")) setBuffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, o["sndbuf"].get<int>(), who);
  if (o.contains("rcvbuf")) setBuffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, o["rcvbuf"].get<int>(), who);
  if (o.contains("peek_off")) {
    int off = o["peek_off"].get<int>();
    if (off >= 0 && setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) != 0)
      throwErrno(fmt::format("{}: setting SO_PEEK_OFF to {}", who, off));
  }
}

// ---- Dump: reading the queue without consuming it ---------------------------

// Puts SO_PEEK_OFF back as the program had it, on every path: it is per
// socket, shared with the program.
class PeekOffset {
 public:
  PeekOffset(int fd, const std::string& who) : fd_(fd), who_(who) {
    auto v = intOption(fd, SO_PEEK_OFF);
    if (!v) throwErrno(who + ": reading SO_PEEK_OFF");
    saved_ = *v;
  }
  ~PeekOffset() {
    if (setsockopt(fd_, SOL_SOCKET, SO_PEEK_OFF, &saved_, sizeof saved_) != 0)
      log::error("{}: putting SO_PEEK_OFF back to {} failed: {}", who_, saved_, strerror(errno));
  }
  PeekOffset(const PeekOffset&) = delete;
  PeekOffset& operator=(const PeekOffset&) = delete;
  void set(int off) {
    if (setsockopt(fd_, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) != 0)
      throwErrno(fmt::format("{}: setting SO_PEEK_OFF to {}", who_, off));
  }

 private:
  int fd_;
  std::string who_;
  int saved_ = -1;
};

[[noreturn]] void fdsInFlight(const std::string& who, const std::string& count) {
  throw Error(
      fmt::format("{}: {} file descriptor(s) in flight (SCM_RIGHTS) wait in its queue; ckpt "
                  "cannot save them; let the program receive them first",
                  who, count));
}

// One MSG_PEEK at the socket's peek offset. Descriptors that come along
// (SCM_RIGHTS, SCM_PIDFD) are closed at once; SCM_RIGHTS fails the dump.
ssize_t peekOnce(int fd, char* buf, size_t len, int flags, const std::string& who) {
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred)) + 512];
  iovec iov{buf, len};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  ssize_t n = recvmsg(fd, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC | flags);
  if (n < 0) return -errno;
  int rights = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || (c->cmsg_type != SCM_RIGHTS && c->cmsg_type != SCM_PIDFD))
      continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int got;
      std::memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof got);
      ::close(got);
    }
    if (c->cmsg_type == SCM_RIGHTS) rights += int(count);
  }
  if (rights) fdsInFlight(who, std::to_string(rights));
  return n;
}

struct Queue {
  std::string data;
  std::vector<uint64_t> sizes;  // datagram and seqpacket boundaries
};

Queue peekStream(int fd, size_t total, const std::string& who) {
  // Never peek past the end: an empty queue would hand over (and clear) a
  // pending error.
  PeekOffset off(fd, who);
  off.set(0);
  Queue q;
  q.data.resize(total);
  size_t got = 0;
  while (got < total) {
    ssize_t n = peekOnce(fd, q.data.data() + got, total - got, 0, who);
    if (n < 0) throw SysError(who + ": reading its queued data", int(-n));
    if (n == 0)
      throw Error(fmt::format("{}: {} bytes queued, but only {} could be read", who, total, got));
    got += size_t(n);
  }
  return q;
}

Queue peekMessages(int fd, bool seqpacket, size_t total, const std::string& who) {
  PeekOffset off(fd, who);
  off.set(0);
  Queue q;
  std::vector<char> buf(64 * 1024);
  size_t offset = 0;
  for (size_t guard = 0;; ++guard) {
    if (seqpacket && offset >= total) break;  // every byte of the queue is in
    if (guard > (1u << 22)) throw Error(who + ": its queue does not end");
    ssize_t n = peekOnce(fd, buf.data(), buf.size(), MSG_TRUNC, who);
    if (n == -EAGAIN) break;
    if (n < 0) throw SysError(who + ": reading its queued messages", int(-n));
    if (size_t(n) > buf.size()) {  // truncated: the offset moved by the buffer's size only
      buf.resize(size_t(n));
      off.set(int(offset));
      continue;
    }
    // A zero-length message is seen only at the head (the kernel skips the
    // others when peeking at an offset); a shut-down seqpacket also says 0 at the end.
    if (n == 0 && offset > 0) break;
    q.data.append(buf.data(), size_t(n));
    q.sizes.push_back(uint64_t(n));
    offset += size_t(n);
    if (offset > size_t(INT32_MAX)) throw Error(who + ": more than 2 GiB queued");
  }
  if (seqpacket && offset != total)
    throw Error(fmt::format("{}: {} bytes queued, but {} could be read", who, total, offset));
  return q;
}

short pollNow(int fd) {
  pollfd p{fd, POLLIN | POLLPRI | POLLERR, 0};
  if (::poll(&p, 1, 0) < 0) return 0;
  return p.revents;
}

// ---- Dump -----------------------------------------------------------------------

std::string who(const FdProbe& p) {
  return fmt::format("pid {} fd {} ({})", p.pid, p.fd, p.link);
}

bool matches(const FdProbe& p) {
  if (!S_ISSOCK(p.st.st_mode)) return false;
  return intOption(p.local.get(), SO_DOMAIN) == AF_UNIX;
}

// Where a path name lives now: its socket file (same inode), replaced or gone.
void dumpPathName(const FdProbe& p, const sockdiag::UnixSocketInfo& s, Json& st) {
  std::string path = pathOf(*s.name);
  std::string base = fmt::format("/proc/{}/root", p.pid);
  if (path.empty() || path[0] != '/') {
    // Relative to the directory of the bind(): take the cwd when the file is there.
    std::string cwd = proc::readLink(fmt::format("/proc/{}/cwd", p.pid));
    st["name_dir"] = cwd;
    base += cwd + "/";
  }
  struct stat fs {};
  bool same = ::stat((base + path).c_str(), &fs) == 0 && S_ISSOCK(fs.st_mode) && s.vfsIno &&
              fs.st_ino == *s.vfsIno && fs.st_dev == sockdiag::userDev(s.vfsDev.value_or(0));
  if (!same) {
    st["name_gone"] = true;  // unlinked (or replaced) after the bind
    return;
  }
  st["file_mode"] = fs.st_mode & 07777;
  st["file_uid"] = fs.st_uid;
  st["file_gid"] = fs.st_gid;
}

void checkPeers(FdDumpContext& ctx);

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  d.kind = image::FileKind::UnixSocket;
  const std::string w = who(p);
  int fd = p.local.get();
  auto type = intOption(fd, SO_TYPE);
  if (!type) throwErrno(w + ": reading SO_TYPE");
  sockdiag::UnixDiag diag;
  auto info = diag.query(uint32_t(p.st.st_ino));
  if (!info)
    throw Error(
        fmt::format("{}: sock_diag does not know this socket; is the tree in another network "
                    "namespace than ckpt?",
                    w));
  const auto& s = *info;
  Json st = Json::object();
  st["type"] = *type;
  st["ino"] = s.ino;
  st["state"] = s.state;
  st["shutdown"] = s.shutdown;
  if (s.name) {
    st["name"] = toHex(*s.name);
    d.path = showName(*s.name);
    if (!isAbstract(*s.name)) dumpPathName(p, s, st);
  }
  if (s.peer) st["peer"] = *s.peer;
  if (auto pn = peerNameOf(fd); pn && !pn->empty()) st["peer_name"] = toHex(*pn);
  st["options"] = dumpOptions(fd);

  auto scm = p.info.fields.find("scm_fds");
  if (scm != p.info.fields.end() && scm->second != "0") fdsInFlight(w, scm->second);

  if (s.state == kTcpListen) {
    st["backlog"] = s.wqueue;
    st["icons"] = s.icons;
    for (uint32_t c : s.icons) {
      auto ci = c ? diag.query(c) : std::nullopt;
      if (ci && ci->wqueue > 0)
        throw Error(
            fmt::format("{}: a connection waiting in its backlog (from socket:[{}]) already "
                        "holds data the program has not accepted; ckpt cannot read it "
                        "before accept()",
                        w, c));
    }
  } else {
    short ev = pollNow(fd);
    if ((ev & POLLPRI) && *type == SOCK_STREAM)
      throw Error(fmt::format("{}: out-of-band data (MSG_OOB) is queued; ckpt cannot save it", w));
    bool pendingError = ev & POLLERR;
    if (pendingError) st["error"] = true;  // ECONNRESET: the only error unix sockets keep
    int inq = 0;
    if (ioctl(fd, SIOCINQ, &inq) != 0) throwErrno(w + ": SIOCINQ");
    bool hasData = inq > 0 || ((ev & POLLIN) && !(s.shutdown & kRcvShutdown));
    if (hasData && *type != SOCK_STREAM && pendingError)
      throw Error(
          fmt::format("{}: an error (ECONNRESET) is pending before its queued messages; "
                      "reading them would clear it; let the program read first",
                      w));
    if (hasData) {
      Queue q = *type == SOCK_STREAM ? peekStream(fd, size_t(inq), w)
                                     : peekMessages(fd, *type == SOCK_SEQPACKET, size_t(inq), w);
      if (!q.data.empty() || !q.sizes.empty()) {
        Json qj;
        qj["file"] = fmt::format("unix-{}.data", d.id);
        qj["size"] = q.data.size();
        qj["xxh3"] =
            ctx.writer.writeBlob(qj["file"].get<std::string>(), q.data.data(), q.data.size());
        if (*type != SOCK_STREAM) qj["sizes"] = q.sizes;
        st["queue"] = qj;
      }
    }
  }
  d.state = std::move(st);
  if (std::find(ctx.finishers.begin(), ctx.finishers.end(), &checkPeers) == ctx.finishers.end())
    ctx.finishers.push_back(&checkPeers);
}

// ---- Dump: peers outside the tree, once every fd is known --------------------

// ", pid N" of a process holding the socket with this inode, for messages
// ("" if none is found). Scans /proc: only on the way to an error.
std::string holderOf(uint32_t ino) {
  const std::string want = fmt::format("socket:[{}]", ino);
  DIR* proc = opendir("/proc");
  if (!proc) return "";
  std::string found;
  while (dirent* e = readdir(proc)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    if (std::atoi(e->d_name) == getpid()) continue;
    std::string dir = fmt::format("/proc/{}/fd", e->d_name);
    DIR* fds = opendir(dir.c_str());
    if (!fds) continue;
    while (dirent* f = readdir(fds)) {
      char link[64] = {};
      if (readlink((dir + "/" + f->d_name).c_str(), link, sizeof link - 1) > 0 && want == link) {
        found = fmt::format(", pid {}", e->d_name);
        break;
      }
    }
    closedir(fds);
    if (!found.empty()) break;
  }
  closedir(proc);
  return found;
}

void checkPeers(FdDumpContext& ctx) {
  auto& img = ctx.image;
  struct Holder {
    pid_t pid = 0;
    int fd = -1;
    bool external = false;
  };
  std::map<int, Holder> holders;  // file id -> first fd holding it, and whether one is --external
  for (const auto& proc : img.processes)
    for (const auto& e : proc.fds) {
      auto& h = holders[e.file];
      if (h.fd < 0) h = {proc.pid, e.fd, ctx.unixClose};
      for (const auto& [pid, fd] : ctx.externals)
        if (pid == proc.pid && fd == e.fd) h.external = true;
    }
  std::set<uint32_t> waiting;
  std::map<uint32_t, std::optional<uint32_t>> inTree;  // inode -> its peer
  for (const auto& f : img.files) {
    if (f.kind != image::FileKind::UnixSocket) continue;
    inTree[f.state.at("ino").get<uint32_t>()] =
        f.state.contains("peer") ? std::optional(f.state["peer"].get<uint32_t>()) : std::nullopt;
    if (f.state.contains("icons"))
      for (uint32_t c : f.state["icons"]) waiting.insert(c);
  }
  std::optional<sockdiag::UnixDiag> diag;
  for (auto& f : img.files) {
    if (f.kind != image::FileKind::UnixSocket) continue;
    const Holder& h = holders[f.id];
    auto& st = f.state;
    const std::string w =
        fmt::format("pid {} fd {} (socket:[{}])", h.pid, h.fd, st["ino"].get<uint32_t>());
    const std::string rerun = fmt::format(
        "rerun with --external {}:{} to restore it as closed by its peer (or with "
        "--unix-close for every such connection)",
        h.pid, h.fd);
    if (st.contains("icons")) {
      for (uint32_t c : st["icons"]) {
        if (c == 0 || inTree.count(c)) continue;
        if (h.external) continue;
        throw Error(
            fmt::format("{}: a connection from outside the tree (socket:[{}]{}) waits in "
                        "its backlog; {}",
                        w, c, holderOf(c), rerun));
      }
      continue;
    }
    if (!st.contains("peer")) continue;
    uint32_t peer = st["peer"].get<uint32_t>();
    const uint32_t ino = st["ino"].get<uint32_t>();
    int type = st["type"].get<int>();
    if (type == SOCK_DGRAM && peer != 0 && !st.contains("name") && st.contains("queue")) {
      bool mutual;
      if (auto it = inTree.find(peer); it != inTree.end()) {
        mutual = it->second == ino;
      } else {
        if (!diag) diag.emplace();
        auto pi = diag->query(peer);
        mutual = pi && pi->peer == ino;
      }
      // Only a connect() makes it point at its peer again, and that empties its queue.
      if (!mutual)
        throw Error(
            fmt::format("{}: an unbound datagram socket connected to socket:[{}] holds "
                        "queued datagrams; ckpt cannot connect it again without losing "
                        "them; let the program read them first",
                        w, peer));
    }
    std::string peerName =
        st.contains("peer_name") ? fromHex(st["peer_name"].get<std::string>()) : "";
    bool notAccepted = false;
    if (peer == 0) {
      // Closed, or an embryo: a connection not yet accepted by its listener.
      bool closed = (st["shutdown"].get<int>() & 3) == 3;
      if (type == SOCK_DGRAM || closed || waiting.count(ino)) continue;
      notAccepted = true;
    } else if (inTree.count(peer)) {
      continue;
    } else if (type == SOCK_DGRAM && !peerName.empty()) {
      if (!diag) diag.emplace();
      auto pi = diag->query(peer);
      if (!pi || pi->peer != ino) {
        st["reconnect"] = true;  // a one-way datagram connection: connect() by name again
        continue;
      }
    }
    auto problem = [&] {
      std::string name = peerName.empty() ? std::string("a socket") : showName(peerName);
      if (notAccepted)
        return fmt::format("connected to {} outside the tree (not yet accepted there)", name);
      return fmt::format("connected to {} (socket:[{}]{}) outside the tree", name, peer,
                         holderOf(peer));
    };
    if (!h.external) throw Error(fmt::format("{}: {}; {}", w, problem(), rerun));
    st["external"] = true;
    log::info("{}: connected outside the tree; restored as closed by its peer (--external)", w);
  }
}

// ---- Restore ----------------------------------------------------------------------

// One socket of the image, as restore reads it.
struct Sock {
  const image::FileDesc* d = nullptr;
  int type = 0;
  uint32_t ino = 0;
  int state = 0;
  std::optional<std::string> name;
  std::optional<uint32_t> peer;

  const Json& st() const { return d->state; }
  bool listening() const { return state == kTcpListen; }
  bool has(const char* key) const { return st().contains(key) && !st()[key].is_null(); }
  std::string label() const { return fmt::format("socket:[{}]", ino); }
};

Sock parseSock(const image::FileDesc& d) {
  if (!d.state.is_object() || !d.state.contains("type") || !d.state.contains("ino"))
    throw Error(fmt::format("manifest: unix socket {} has no state", d.id));
  Sock s;
  s.d = &d;
  s.type = d.state["type"].get<int>();
  s.ino = d.state["ino"].get<uint32_t>();
  s.state = d.state.value("state", 0);
  if (d.state.contains("name")) s.name = fromHex(d.state["name"].get<std::string>());
  if (d.state.contains("peer")) s.peer = d.state["peer"].get<uint32_t>();
  return s;
}

std::string readBlob(const std::string& dir, const Json& q) {
  std::string path = dir + "/" + q.at("file").get<std::string>();
  size_t size = q.at("size").get<size_t>();
  std::string data = readImageFile(path, size);
  if (image::xxh3(data.data(), data.size()) != q.at("xxh3").get<uint64_t>())
    throw Error(fmt::format("{}: checksum mismatch: the image is corrupt", path));
  return data;
}

UniqueFd newSocket(int type) {
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) throwErrno("creating a unix socket");
  return fd;
}

std::pair<UniqueFd, UniqueFd> newPair(int type) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) throwErrno("creating a socketpair");
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

void setNonblocking(int fd, bool on) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK) != 0)
    throwErrno("setting O_NONBLOCK on a unix socket");
}

// Room for `bytes` in flight from this socket (its sndbuf bounds them).
void raiseSndbuf(int fd, size_t bytes) {
  int want = int(std::min<size_t>(bytes * 2 + (1 << 20), 1u << 30));
  if (intOption(fd, SO_SNDBUF).value_or(0) >= want) return;
  int half = want / 2;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &half, sizeof half) != 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &half, sizeof half);
}

class Builder {
 public:
  explicit Builder(FdRestoreContext& ctx) : ctx_(ctx) {
    for (const auto& f : ctx.image.files)
      if (f.kind == image::FileKind::UnixSocket) all_.push_back(parseSock(f));
  }

  // Makes the socket (and whatever must be made with it) unless it is made.
  int build(const Sock& s) {
    if (int fd = made(s); fd >= 0) return fd;
    if (s.listening()) {
      buildListener(s);
    } else if (s.type != SOCK_DGRAM) {
      if (const Sock* l = listenerFor(s); l && made(*l) < 0) buildListener(*l);
      if (made(s) >= 0) return made(s);
      if (const Sock* y = mutualPeer(s))
        buildPair(s, *y);
      else if (s.peer)
        buildClosed(s);
      else
        buildLone(s);
    } else {
      if (const Sock* y = mutualPeer(s))
        buildPair(s, *y);
      else
        buildDgram(s);
    }
    int fd = made(s);
    if (fd < 0) throw Error(fmt::format("restoring unix {}: not made", s.label()));
    return fd;
  }

  const Sock& sockOf(const image::FileDesc& d) {
    for (const auto& s : all_)
      if (s.d == &d) return s;
    throw Error(fmt::format("manifest: file {} is not a unix socket", d.id));
  }

 private:
  int made(const Sock& s) const {
    auto it = ctx_.files.find(s.d->id);
    return it == ctx_.files.end() ? -1 : it->second.get();
  }
  int keep(const Sock& s, UniqueFd fd) {
    int raw = fd.get();
    if (!ctx_.files.emplace(s.d->id, std::move(fd)).second)
      throw Error(fmt::format("restoring unix {}: made twice", s.label()));
    return raw;
  }

  const Sock* byIno(uint32_t ino) const {
    if (ino == 0) return nullptr;
    for (const auto& s : all_)
      if (s.ino == ino) return &s;
    return nullptr;
  }
  const Sock* mutualPeer(const Sock& s) const {
    const Sock* y = s.peer ? byIno(*s.peer) : nullptr;
    return y && y->peer == s.ino && y != &s ? y : nullptr;
  }
  // The listener a connected socket came from: it holds the listener's name
  // (accepted), its peer does, or it waits in the listener's backlog.
  const Sock* listenerFor(const Sock& s) const {
    auto named = [&](const Sock& x) -> const Sock* {
      if (!x.name) return nullptr;
      for (const auto& l : all_)
        if (l.listening() && l.type == x.type && l.name == x.name && &l != &x) return &l;
      return nullptr;
    };
    if (const Sock* l = named(s)) return l;
    if (const Sock* y = mutualPeer(s))
      if (const Sock* l = named(*y)) return l;
    for (const auto& l : all_)
      if (l.listening() && l.st().contains("icons"))
        for (uint32_t c : l.st()["icons"])
          if (c == s.ino) return &l;
    return nullptr;
  }
  // A connected socket's name is its own unless another socket shares it
  // (accepted from the same listener, now gone): then it is left unnamed.
  bool ownsName(const Sock& s) const {
    if (!s.name) return false;
    for (const auto& x : all_)
      if (&x != &s && x.name == s.name) return false;
    // An abstract name of a connected socket is its own when the kernel made
    // it (autobind: 5 hex digits); any other may be a gone listener's, which
    // the socket must not take (the program could not bind it again).
    if (s.peer && isAbstract(*s.name)) {
      const std::string& n = *s.name;
      return n.size() == 6 && std::all_of(n.begin() + 1, n.end(), [](char c) {
               return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f');
             });
    }
    return true;
  }

  // A connected stream or seqpacket socket may share its name with a
  // listener outside the tree: such a name is left out rather than taken.
  static bool softName(const Sock& s) { return s.peer && !s.listening() && s.type != SOCK_DGRAM; }

  std::string fullPath(const Sock& s) const {
    std::string path = pathOf(*s.name);
    if (!path.empty() && path[0] == '/') return path;
    return s.st().value("name_dir", std::string(".")) + "/" + path;
  }

  // A path whose socket file is left from a process that is gone is taken
  // over; one that a running socket listens on is not.
  // Returns false (soft names only) when a running socket holds the path.
  bool clearPath(const std::string& path, const Sock& s) {
    struct stat fs {};
    if (::lstat(path.c_str(), &fs) != 0) return true;
    if (!S_ISSOCK(fs.st_mode))
      throw Error(
          fmt::format("unix {} was bound to {}, which is now a file that is not a socket; "
                      "move it away and restore again",
                      s.label(), path));
    if (!live_) live_ = sockdiag::UnixDiag().all();
    for (const auto& o : *live_)
      if (o.vfsIno == fs.st_ino && sockdiag::userDev(o.vfsDev.value_or(0)) == fs.st_dev) {
        if (softName(s)) {
          log::warn(
              "unix {}: its name {} belongs to a running socket (socket:[{}]) now; it is "
              "restored without a name",
              s.label(), path, o.ino);
          return false;
        }
        throw Error(
            fmt::format("unix {} was bound to {}, which a running socket (socket:[{}]{}) "
                        "holds now; stop its owner and restore again",
                        s.label(), path, o.ino, holderOf(o.ino)));
      }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throwErrno(fmt::format("removing the stale socket file {}", path));
    return true;
  }

  // Binds to the saved name. A path that had been unlinked while bound is
  // unlinked again, at once or (keepGone) by dropGoneName once connecting by it is done.
  void bindName(int fd, const Sock& s, bool keepGone = false) {
    const std::string& raw = *s.name;
    if (isAbstract(raw)) {
      Address a = addressOf(raw);
      if (::bind(fd, reinterpret_cast<sockaddr*>(&a.sa), a.len) != 0) {
        if (errno == EADDRINUSE && softName(s)) {
          log::warn(
              "unix {}: its name {} belongs to another socket now; it is restored without "
              "a name",
              s.label(), showName(raw));
          return;
        }
        if (errno == EADDRINUSE)
          throw Error(
              fmt::format("unix {}: the abstract name {} is taken by another socket; stop "
                          "its owner and restore again",
                          s.label(), showName(raw)));
        throwErrno(fmt::format("binding unix {} to {}", s.label(), showName(raw)));
      }
      return;
    }
    std::string path = pathOf(raw), full = fullPath(s);
    if (!clearPath(full, s)) return;
    Address a = addressOf(raw);
    if (!path.empty() && path[0] != '/') {
      // A relative name is bound from its directory, so getsockname() shows it as it was.
      std::string dir = s.st().value("name_dir", std::string("."));
      pid_t child = fork();
      if (child < 0) throwErrno("fork");
      if (child == 0) {
        if (chdir(dir.c_str()) != 0) _exit(errno);
        _exit(::bind(fd, reinterpret_cast<sockaddr*>(&a.sa), a.len) == 0 ? 0 : errno);
      }
      int status = 0;
      while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
      }
      int err = WIFEXITED(status) ? WEXITSTATUS(status) : EIO;
      if (err)
        throw SysError(fmt::format("binding unix {} to {} in {}", s.label(), path, dir), err);
    } else if (::bind(fd, reinterpret_cast<sockaddr*>(&a.sa), a.len) != 0) {
      throwErrno(fmt::format("binding unix {} to {}", s.label(), path));
    }
    if (s.has("name_gone")) {
      if (!keepGone) dropGoneName(s);
      return;
    }
    if (s.has("file_mode") && ::chmod(full.c_str(), s.st()["file_mode"].get<mode_t>()) != 0)
      throwErrno(fmt::format("setting the mode of {}", full));
    if (s.has("file_uid") && ::lchown(full.c_str(), s.st()["file_uid"].get<uid_t>(),
                                      s.st()["file_gid"].get<gid_t>()) != 0)
      log::warn("unix {}: cannot give {} its owner back: {}", s.label(), full, strerror(errno));
  }

  void dropGoneName(const Sock& s) {
    if (s.name && !isAbstract(*s.name) && s.has("name_gone")) ::unlink(fullPath(s).c_str());
  }

  // Connects to a name: a relative path by its absolute form.
  int connectTo(int fd, const std::string& raw, const std::string& dir) {
    std::string target = raw;
    if (!isAbstract(raw) && !raw.empty() && raw[0] != '/') target = dir + "/" + pathOf(raw) + '\0';
    Address a = addressOf(target);
    return ::connect(fd, reinterpret_cast<sockaddr*>(&a.sa), a.len) == 0 ? 0 : errno;
  }

  void connectStream(int fd, const Sock& listener) {
    setNonblocking(fd, true);
    int err = connectTo(fd, *listener.name, listener.st().value("name_dir", std::string(".")));
    if (err)
      throw SysError(fmt::format("connecting to the restored listener {} ({})",
                                 showName(*listener.name), listener.label()),
                     err);
    setNonblocking(fd, false);
  }

  // Queues the saved data of `s` by sending from `from` (its peer, or a
  // stand-in). `to` names s for a datagram socket filled by sendto().
  void fill(const Sock& s, int from, const Address* to = nullptr) {
    if (!s.has("queue")) return;
    const Json& q = s.st()["queue"];
    std::string data = readBlob(ctx_.imageDir, q);
    raiseSndbuf(from, data.size());
    std::vector<uint64_t> sizes;
    if (q.contains("sizes"))
      sizes = q["sizes"].get<std::vector<uint64_t>>();
    else
      sizes.push_back(data.size());
    size_t at = 0;
    for (uint64_t n : sizes) {
      if (at + n > data.size())
        throw Error(fmt::format("manifest: unix {}: queue sizes exceed its data", s.label()));
      size_t done = 0;
      do {
        ssize_t r =
            to ? ::sendto(from, data.data() + at + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL,
                          reinterpret_cast<const sockaddr*>(&to->sa), to->len)
               : ::send(from, data.data() + at + done, n - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r < 0 && errno == EAGAIN && to)
          throw Error(
              fmt::format("queueing {} saved datagrams for unix {}: its queue is full (raise "
                          "net.unix.max_dgram_qlen)",
                          sizes.size(), s.label()));
        if (r < 0)
          throwErrno(fmt::format("queueing {} saved bytes for unix {}", data.size(), s.label()));
        done += size_t(r);
      } while (s.type == SOCK_STREAM && done < n);
      at += n;
    }
  }

  void shutdownAsSaved(int fd, const Sock& s) {
    int bits = s.st().value("shutdown", 0) & 3;
    if (!bits) return;
    int how = bits == 3 ? SHUT_RDWR : bits == kRcvShutdown ? SHUT_RD : SHUT_WR;
    if (::shutdown(fd, how) != 0) throwErrno(fmt::format("shutdown of unix {}", s.label()));
  }

  void finish(int fd, const Sock& s) {
    shutdownAsSaved(fd, s);
    restoreOptions(fd, s.st().value("options", Json::object()), "unix " + s.label());
    if (fcntl(fd, F_SETFL, s.d->flags & (O_NONBLOCK | O_ASYNC)) != 0)
      throwErrno(fmt::format("setting the flags of unix {}", s.label()));
  }

  // `s` loses a stand-in peer after its data is in: reads give the data,
  // then EOF (stream, seqpacket); writes fail.
  void closeStandIn(int fd, const Sock& s, UniqueFd standIn) {
    fill(s, standIn.get());
    if (s.has("error") && s.type != SOCK_DGRAM) {
      // A peer that closes with data unread leaves ECONNRESET pending here.
      char c = 0;
      if (::send(fd, &c, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1)
        log::warn("unix {}: its pending ECONNRESET is not restored", s.label());
    } else if (s.has("error")) {
      log::warn("unix {}: its pending ECONNRESET is not restored", s.label());
    }
    standIn.reset();
  }

  void buildListener(const Sock& l) {
    UniqueFd own = newSocket(l.type);
    int lfd = keep(l, std::move(own));
    if (!l.name) throw Error(fmt::format("manifest: listening unix {} has no name", l.label()));
    bindName(lfd, l, true);
    int backlog = l.st().value("backlog", 0);
    std::vector<uint32_t> icons = l.st().value("icons", std::vector<uint32_t>());
    // Room for the whole backlog while it is refilled, even if the program
    // lowered the backlog after the connections came.
    const int room = std::max<int>(backlog, int(icons.size()));
    if (::listen(lfd, room) != 0) throwErrno(fmt::format("listen on unix {}", l.label()));
    // Connections it accepted: both ends again through it, so the accepted
    // end shares its name, before the backlog is queued.
    for (const auto& acc : all_) {
      if (acc.listening() || !acc.peer || acc.type != l.type || acc.name != l.name ||
          made(acc) >= 0)
        continue;
      const Sock* client = mutualPeer(acc);
      if (client && made(*client) >= 0) continue;
      UniqueFd c = client ? newClient(*client) : newSocket(l.type);
      connectStream(c.get(), l);
      UniqueFd a(::accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC));
      if (!a) throwErrno(fmt::format("accepting on the restored unix {}", l.label()));
      int afd = keep(acc, std::move(a));
      if (client) {
        int cfd = keep(*client, std::move(c));
        finishPair(acc, afd, *client, cfd);
      } else {
        closeStandIn(afd, acc, std::move(c));
        finish(afd, acc);
      }
    }
    for (uint32_t ino : icons) {
      const Sock* client = byIno(ino);
      if (client && made(*client) >= 0) client = nullptr;
      UniqueFd c = client ? newClient(*client) : newSocket(l.type);
      connectStream(c.get(), l);
      if (!client) continue;  // closed, or outside the tree: its end goes now
      int cfd = keep(*client, std::move(c));
      finish(cfd, *client);
    }
    if (room != backlog && ::listen(lfd, backlog) != 0)
      throwErrno(fmt::format("listen on unix {}", l.label()));
    dropGoneName(l);
    finish(lfd, l);
  }

  UniqueFd newClient(const Sock& c) {
    UniqueFd fd = newSocket(c.type);
    if (ownsName(c)) bindName(fd.get(), c);
    return fd;
  }

  void finishPair(const Sock& x, int xfd, const Sock& y, int yfd) {
    fill(x, yfd);
    fill(y, xfd);
    if (x.has("error") || y.has("error"))
      log::warn("unix {}: a pending ECONNRESET is not restored", x.label());
    finish(xfd, x);
    finish(yfd, y);
  }

  void buildPair(const Sock& x, const Sock& y) {
    auto [a, b] = newPair(x.type);
    int xfd = keep(x, std::move(a)), yfd = keep(y, std::move(b));
    if (ownsName(x)) bindName(xfd, x);
    if (ownsName(y)) bindName(yfd, y);
    finishPair(x, xfd, y, yfd);
  }

  // Stream or seqpacket whose peer is closed or outside the tree.
  void buildClosed(const Sock& s) {
    auto [a, t] = newPair(s.type);
    int fd = keep(s, std::move(a));
    if (ownsName(s)) bindName(fd, s);
    closeStandIn(fd, s, std::move(t));
    finish(fd, s);
  }

  void buildLone(const Sock& s) {
    int fd = keep(s, newSocket(s.type));
    if (s.name) bindName(fd, s);
    finish(fd, s);
  }

  void buildDgram(const Sock& s) {
    int fd = -1;
    bool deadPeer = false;
    if (s.name) {
      fd = keep(s, newSocket(s.type));
      bindName(fd, s, true);
      if (s.has("error")) log::warn("unix {}: its pending ECONNRESET is not restored", s.label());
      if (s.has("queue")) {
        UniqueFd sender = newSocket(s.type);
        std::string target = *s.name;
        if (!isAbstract(target) && target[0] != '/') target = fullPath(s) + '\0';
        Address to = addressOf(target);
        fill(s, sender.get(), &to);
      }
      dropGoneName(s);
    } else if (s.has("queue")) {
      auto [a, t] = newPair(s.type);
      fd = keep(s, std::move(a));
      closeStandIn(fd, s, std::move(t));
      deadPeer = true;
    } else {
      fd = keep(s, newSocket(s.type));
    }
    if (s.peer) connectDgram(fd, s, deadPeer);
    finish(fd, s);
  }

  void connectDgram(int fd, const Sock& s, bool deadPeer) {
    if (const Sock* p = byIno(*s.peer)) {
      build(*p);
      if (!p->name) {
        log::warn("unix {}: its peer {} has no name; not connected again", s.label(), p->label());
        return;
      }
      if (int err = connectTo(fd, *p->name, p->st().value("name_dir", std::string("."))))
        log::warn("unix {}: connecting to {} again failed: {}", s.label(), showName(*p->name),
                  strerror(err));
      return;
    }
    if (s.has("reconnect") && s.has("peer_name")) {
      std::string name = fromHex(s.st()["peer_name"].get<std::string>());
      if (int err = connectTo(fd, name, "."))
        log::warn("unix {}: connecting to {} (outside the tree) again failed: {}", s.label(),
                  showName(name), strerror(err));
      return;
    }
    if (deadPeer) return;
    // The peer is closed (or outside): point at a peer that is gone.
    UniqueFd t = newSocket(s.type);
    sockaddr_un any{};
    any.sun_family = AF_UNIX;
    if (::bind(t.get(), reinterpret_cast<sockaddr*>(&any), sizeof(sa_family_t)) != 0)
      throwErrno("autobinding a unix socket");
    auto name = [&] {
      Address a;
      a.len = sizeof a.sa;
      getsockname(t.get(), reinterpret_cast<sockaddr*>(&a.sa), &a.len);
      return std::string(a.sa.sun_path, a.len - offsetof(sockaddr_un, sun_path));
    }();
    if (int err = connectTo(fd, name, "."))
      throw SysError(fmt::format("connecting unix {} to a stand-in peer", s.label()), err);
  }

  FdRestoreContext& ctx_;
  std::vector<Sock> all_;
  std::optional<std::vector<sockdiag::UnixSocketInfo>> live_;
};

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  Builder b(ctx);
  b.build(b.sockOf(d));
  // restoreFds stores what restore returns under d.id: hand it over.
  auto node = ctx.files.extract(d.id);
  return std::move(node.mapped());
}

}  // namespace

extern const FdKind kUnixSocketKind{
    "unix socket", matches, dump, restore, {image::FileKind::UnixSocket}, nullptr};

}  // namespace ckpt
