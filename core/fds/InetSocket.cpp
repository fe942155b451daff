// TCP and UDP sockets over IPv4 and IPv6: bound address and port, listeners
// with their backlog size, connected UDP peers, and the options that change
// behaviour.
//
// Listeners come back listening on the same address and port, with the same
// backlog. Connections waiting in a listener's backlog (not yet accepted)
// cannot come back: their clients are other sockets, and a TCP handshake
// cannot be replayed. The dump logs a warning naming how many are dropped;
// the clients see a reset when they next talk.
// A UDP socket is bound to its address again and, if connected, connected
// to the same peer; datagrams queued to it are dropped with a warning.
// An established TCP connection (or one whose peer has sent FIN) fails the
// dump unless `--external PID:FD` names it or `--tcp-close` is given; it then
// comes back as a connection whose peer has gone: ckpt connects a new TCP
// socket of the same family, bound to the same local address and port when
// it can be, to a temporary listener on loopback, queues the data that was
// waiting to be read (saved with MSG_PEEK), closes the other end (FIN) and
// shuts down writing. Reads give that data, then EOF; writes fail with EPIPE;
// getsockname keeps its family, and its address and port when they can be
// bound again (a socket of the old connection may still hold the port: then
// another port, with a warning); getpeername fails with ENOTCONN once the
// stand-in peer has acknowledged the FIN (at once, on loopback). Data the
// program had written but the peer had not yet acknowledged is lost.
// Connections with both ends in the tree (ESTABLISHED) come back through
// TCP_REPAIR (needs CAP_NET_ADMIN): at dump each end is put in repair mode
// for a moment to read its sequence numbers, both queues (MSG_PEEK), MSS,
// window scale, SACK, timestamps and window, then left without a window
// probe; at restore each end is made in repair mode bound to its address
// (repair mode binds over the listener that shares it), connected without a
// packet, its queues refilled, and left without a window probe, since its
// peer may not be made yet. Tested with unread data in both receive
// queues; data sent but not acknowledged at dump is put back in the send
// queue but that path is not tested.
//
// State and backlog come from TCP_INFO (tcpi_state; for a listener
// tcpi_sacked is sk_max_ack_backlog and tcpi_unacked the connections
// waiting), the same kernel fields INET_DIAG reports, read through ckpt's
// own duplicate of the fd, so it works whatever the tree's network namespace.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "core/fds/FdKind.hpp"
#include "core/image/Checksum.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"

namespace ckpt {
namespace {

using Json = nlohmann::json;

// ---- Addresses -----------------------------------------------------------------

struct Address {
  sockaddr_storage sa{};
  socklen_t len = 0;

  int family() const { return sa.ss_family; }
  const sockaddr* raw() const { return reinterpret_cast<const sockaddr*>(&sa); }
  uint16_t port() const {
    if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&sa)->sin_port);
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_port);
  }
  std::string host() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&sa)->sin_addr, buf, sizeof buf);
    else
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&sa)->sin6_addr, buf, sizeof buf);
    return buf;
  }
  // 127.0.0.1:80 or [::1]:80, for messages and the manifest.
  std::string show() const {
    return family() == AF_INET6 ? fmt::format("[{}]:{}", host(), port())
                                : fmt::format("{}:{}", host(), port());
  }
  bool operator==(const Address& o) const {
    return family() == o.family() && port() == o.port() && host() == o.host();
  }
};

std::optional<Address> nameOf(int fd, bool peer) {
  Address a;
  a.len = sizeof a.sa;
  int r = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&a.sa), &a.len)
               : getsockname(fd, reinterpret_cast<sockaddr*>(&a.sa), &a.len);
  if (r != 0) return std::nullopt;
  return a;
}

Json toJson(const Address& a) {
  Json j;
  j["family"] = a.family() == AF_INET6 ? "inet6" : "inet";
  j["host"] = a.host();
  j["port"] = a.port();
  if (a.family() == AF_INET6) {
    auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a.sa);
    j["scope_id"] = s6->sin6_scope_id;
    j["flowinfo"] = ntohl(s6->sin6_flowinfo);
  }
  return j;
}

Address fromJson(const Json& j) {
  Address a;
  const std::string host = j.at("host").get<std::string>();
  const auto port = htons(j.at("port").get<uint16_t>());
  if (j.at("family").get<std::string>() == "inet6") {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.sa);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = port;
    s6->sin6_scope_id = j.value("scope_id", 0u);
    s6->sin6_flowinfo = htonl(j.value("flowinfo", 0u));
    if (inet_pton(AF_INET6, host.c_str(), &s6->sin6_addr) != 1)
      throw Error(fmt::format("manifest: bad IPv6 address {}", host));
    a.len = sizeof(sockaddr_in6);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.sa);
    s4->sin_family = AF_INET;
    s4->sin_port = port;
    if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) != 1)
      throw Error(fmt::format("manifest: bad IPv4 address {}", host));
    a.len = sizeof(sockaddr_in);
  }
  return a;
}

// ---- Options ---------------------------------------------------------------------

std::optional<int> intOption(int fd, int level, int opt) {
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, opt, &v, &len) != 0) return std::nullopt;
  return v;
}

constexpr unsigned kV4 = 1, kV6 = 2, kAny = kV4 | kV6;
constexpr unsigned kTcp = 4, kUdp = 8, kBoth = kTcp | kUdp;

struct IntOption {
  const char* key;
  int level, opt;
  unsigned where;  // families and protocols it applies to
};
// Integer options that change what the program sees, all settable before
// bind(): each is saved when the kernel knows it and set back when it
// differs from a new socket's. SO_REUSEADDR is applied after the bind (the
// restore binds with it on, to take over ports that TIME_WAIT sockets hold).
constexpr IntOption kIntOptions[] = {
    {"reuseport", SOL_SOCKET, SO_REUSEPORT, kAny | kBoth},
    {"keepalive", SOL_SOCKET, SO_KEEPALIVE, kAny | kBoth},
    {"broadcast", SOL_SOCKET, SO_BROADCAST, kAny | kBoth},
    {"oobinline", SOL_SOCKET, SO_OOBINLINE, kAny | kTcp},
    {"priority", SOL_SOCKET, SO_PRIORITY, kAny | kBoth},
    {"rcvlowat", SOL_SOCKET, SO_RCVLOWAT, kAny | kBoth},
    {"timestamp", SOL_SOCKET, SO_TIMESTAMP, kAny | kBoth},
    {"mark", SOL_SOCKET, SO_MARK, kAny | kBoth},
    {"v6only", IPPROTO_IPV6, IPV6_V6ONLY, kV6 | kBoth},
    {"unicast_hops", IPPROTO_IPV6, IPV6_UNICAST_HOPS, kV6 | kBoth},
    {"tclass", IPPROTO_IPV6, IPV6_TCLASS, kV6 | kBoth},
    {"recvpktinfo6", IPPROTO_IPV6, IPV6_RECVPKTINFO, kV6 | kUdp},
    {"tos", IPPROTO_IP, IP_TOS, kV4 | kBoth},
    {"ttl", IPPROTO_IP, IP_TTL, kV4 | kBoth},
    {"pktinfo", IPPROTO_IP, IP_PKTINFO, kV4 | kUdp},
    {"recverr", IPPROTO_IP, IP_RECVERR, kV4 | kUdp},
    {"freebind", IPPROTO_IP, IP_FREEBIND, kV4 | kBoth},
    {"nodelay", IPPROTO_TCP, TCP_NODELAY, kAny | kTcp},
    {"cork", IPPROTO_TCP, TCP_CORK, kAny | kTcp},
    {"keepidle", IPPROTO_TCP, TCP_KEEPIDLE, kAny | kTcp},
    {"keepintvl", IPPROTO_TCP, TCP_KEEPINTVL, kAny | kTcp},
    {"keepcnt", IPPROTO_TCP, TCP_KEEPCNT, kAny | kTcp},
    {"user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT, kAny | kTcp},
    {"defer_accept", IPPROTO_TCP, TCP_DEFER_ACCEPT, kAny | kTcp},
    {"fastopen", IPPROTO_TCP, TCP_FASTOPEN, kAny | kTcp},
};

unsigned whereOf(int family, int type) {
  return (family == AF_INET6 ? kV6 : kV4) | (type == SOCK_STREAM ? kTcp : kUdp);
}
bool applies(const IntOption& o, unsigned where) {
  return (o.where & where & (kV4 | kV6)) && (o.where & where & (kTcp | kUdp));
}

Json dumpOptions(int fd, int family, int type, bool connected) {
  Json o = Json::object();
  unsigned where = whereOf(family, type);
  for (const auto& io : kIntOptions)
    if (applies(io, where))
      if (auto v = intOption(fd, io.level, io.opt)) o[io.key] = *v;
  if (auto v = intOption(fd, SOL_SOCKET, SO_REUSEADDR)) o["reuseaddr"] = *v;
  linger l{};
  socklen_t len = sizeof l;
  if (getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len) == 0 && l.l_onoff) o["linger_s"] = l.l_linger;
  for (auto [key, opt] :
       {std::pair{"rcvtimeo_us", SO_RCVTIMEO}, std::pair{"sndtimeo_us", SO_SNDTIMEO}}) {
    timeval tv{};
    len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, opt, &tv, &len) == 0 && (tv.tv_sec || tv.tv_usec))
      o[key] = int64_t(tv.tv_sec) * 1000000 + tv.tv_usec;
  }
  // A connection's buffers are tuned by the kernel as it runs; setting them
  // back would pin them. Listeners and UDP sockets keep what they were given.
  if (!connected || type == SOCK_DGRAM)
    for (auto [key, opt] : {std::pair{"rcvbuf", SO_RCVBUF}, std::pair{"sndbuf", SO_SNDBUF}})
      if (auto v = intOption(fd, SOL_SOCKET, opt)) o[key] = *v;
  return o;
}

void setInt(int fd, int level, int opt, int want, const char* key, const std::string& who) {
  if (setsockopt(fd, level, opt, &want, sizeof want) == 0) return;
  if (errno == EPERM || errno == ENOPROTOOPT) {
    log::warn("{}: cannot set socket option {} to {}: {}", who, key, want, strerror(errno));
    return;
  }
  throwErrno(fmt::format("{}: setting socket option {} to {}", who, key, want));
}

// Sets a buffer size to exactly `want` (as getsockopt reports it, doubled).
void setBuffer(int fd, int opt, int forceOpt, int want, const std::string& who) {
  if (intOption(fd, SOL_SOCKET, opt) == want) return;
  int half = want / 2;
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &half, sizeof half) != 0 &&
      setsockopt(fd, SOL_SOCKET, opt, &half, sizeof half) != 0)
    throwErrno(fmt::format("{}: setting {} to {}", who,
                           opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF", want));
  if (auto got = intOption(fd, SOL_SOCKET, opt); got != want)
    log::warn("{}: {} is {} instead of {}", who, opt == SO_SNDBUF ? "SO_SNDBUF" : "SO_RCVBUF",
              got.value_or(-1), want);
}

// Everything but SO_REUSEADDR, before bind().
void restoreOptions(int fd, int family, int type, const Json& o, const std::string& who) {
  unsigned where = whereOf(family, type);
  for (const auto& io : kIntOptions) {
    if (!applies(io, where) || !o.contains(io.key)) continue;
    int want = o[io.key].get<int>();
    auto now = intOption(fd, io.level, io.opt);
    if (now == want) continue;
    if (!now) {
      log::warn("{}: socket option {} is unknown to this kernel", who, io.key);
      continue;
    }
    setInt(fd, io.level, io.opt, want, io.key, who);
  }
  if (o.contains("linger_s")) {
    linger l{1, o["linger_s"].get<int>()};
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) != 0)
      throwErrno(who + ": setting SO_LINGER");
  }
  for (auto [key, opt] :
       {std::pair{"rcvtimeo_us", SO_RCVTIMEO}, std::pair{"sndtimeo_us", SO_SNDTIMEO}}) {
    if (!o.contains(key)) continue;
    int64_t us = o[key].get<int64_t>();
    timeval tv{time_t(us / 1000000), suseconds_t(us % 1000000)};
    if (setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) != 0)
      throwErrno(fmt::format("{}: setting {}", who, key));
  }
  if (o.contains("sndbuf")) setBuffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, o["sndbuf"].get<int>(), who);
  if (o.contains("rcvbuf")) setBuffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, o["rcvbuf"].get<int>(), who);
}

// ---- Dump ---------------------------------------------------------------------------

std::string who(const FdProbe& p) {
  return fmt::format("pid {} fd {} ({})", p.pid, p.fd, p.link);
}

bool matches(const FdProbe& p) {
  if (!S_ISSOCK(p.st.st_mode)) return false;
  int fd = p.local.get();
  auto domain = intOption(fd, SOL_SOCKET, SO_DOMAIN);
  if (domain != AF_INET && domain != AF_INET6) return false;
  auto type = intOption(fd, SOL_SOCKET, SO_TYPE);
  auto proto = intOption(fd, SOL_SOCKET, SO_PROTOCOL);
  return (type == SOCK_STREAM && proto == IPPROTO_TCP) ||
         (type == SOCK_DGRAM && proto == IPPROTO_UDP);
}

const char* tcpStateName(int s) {
  static const char* names[] = {"?",          "ESTABLISHED", "SYN_SENT",  "SYN_RECV",
                                "FIN_WAIT1",  "FIN_WAIT2",   "TIME_WAIT", "CLOSE",
                                "CLOSE_WAIT", "LAST_ACK",    "LISTEN",    "CLOSING"};
  return s >= 0 && s < int(std::size(names)) ? names[s] : "?";
}

// The bytes waiting to be read, without consuming them: SO_PEEK_OFF (shared
// with the program) is turned off while peeking and put back.
std::string peekQueue(int fd, size_t total, const std::string& w) {
  auto off = intOption(fd, SOL_SOCKET, SO_PEEK_OFF).value_or(-1);
  int none = -1;
  if (off >= 0) setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &none, sizeof none);
  std::string data(total, '\0');
  ssize_t n = recv(fd, data.data(), total, MSG_PEEK | MSG_DONTWAIT);
  int err = errno;
  if (off >= 0) setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
  if (n < 0) throw SysError(w + ": reading its queued data", err);
  if (size_t(n) != total)
    throw Error(fmt::format("{}: {} bytes queued, but {} could be read", w, total, n));
  return data;
}

void checkConnections(FdDumpContext& ctx);

void dump(FdProbe& p, image::FileDesc& d, FdDumpContext& ctx) {
  d.kind = image::FileKind::InetSocket;
  const std::string w = who(p);
  int fd = p.local.get();
  int family = intOption(fd, SOL_SOCKET, SO_DOMAIN).value_or(AF_INET);
  int type = intOption(fd, SOL_SOCKET, SO_TYPE).value_or(SOCK_STREAM);
  Json st = Json::object();
  st["type"] = type == SOCK_STREAM ? "tcp" : "udp";
  st["family"] = family == AF_INET6 ? "inet6" : "inet";
  auto local = nameOf(fd, false);
  if (!local) throwErrno(w + ": getsockname");
  auto peer = nameOf(fd, true);
  bool bound = local->port() != 0;
  if (bound) st["local"] = toJson(*local);
  if (peer) st["peer"] = toJson(*peer);
  bool connected = false;

  if (type == SOCK_STREAM) {
    tcp_info ti{};
    socklen_t len = sizeof ti;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) throwErrno(w + ": TCP_INFO");
    int state = ti.tcpi_state;
    st["state"] = tcpStateName(state);
    if (state == TCP_LISTEN) {
      st["backlog"] = ti.tcpi_sacked;  // sk_max_ack_backlog
      if (ti.tcpi_unacked > 0)
        log::warn(
            "{}: listening on {}: {} connection(s) waiting in its backlog are dropped (their "
            "clients will see a reset)",
            w, local->show(), ti.tcpi_unacked);
    } else if (state == TCP_ESTABLISHED || state == TCP_CLOSE_WAIT) {
      connected = true;
      if (!peer) throwErrno(w + ": getpeername");
      if (pollfd pf{fd, POLLPRI, 0}; ::poll(&pf, 1, 0) > 0 && (pf.revents & POLLPRI))
        log::warn("{}: its out-of-band byte is dropped", w);
      int inq = 0;
      if (ioctl(fd, SIOCINQ, &inq) != 0) throwErrno(w + ": SIOCINQ");
      if (inq > 0) {
        std::string data = peekQueue(fd, size_t(inq), w);
        Json q;
        q["file"] = fmt::format("inet-{}.data", d.id);
        q["size"] = data.size();
        q["xxh3"] = ctx.writer.writeBlob(q["file"].get<std::string>(), data.data(), data.size());
        st["queue"] = q;
      }
      int outq = 0;
      if (ioctl(fd, SIOCOUTQ, &outq) == 0 && outq > 0) st["unsent"] = outq;
      d.path = fmt::format("{} -> {}", local->show(), peer->show());
    } else if (state != TCP_CLOSE) {
      throw Error(fmt::format(
          "{}: a TCP socket {} -> {} in state {}; ckpt can save listening, "
          "unconnected and established TCP sockets only; retry later",
          w, local->show(), peer ? peer->show() : std::string("?"), tcpStateName(state)));
    }
  } else {
    if (pollfd pf{fd, POLLIN, 0}; ::poll(&pf, 1, 0) > 0 && (pf.revents & POLLIN))
      log::warn("{}: datagrams queued to UDP socket {} are dropped", w, local->show());
  }
  if (d.path.empty() && bound) d.path = local->show();
  st["options"] = dumpOptions(fd, family, type, connected);
  d.state = std::move(st);
  if (connected && std::find(ctx.finishers.begin(), ctx.finishers.end(), &checkConnections) ==
                       ctx.finishers.end())
    ctx.finishers.push_back(&checkConnections);
}

// Puts a socket of the program into repair mode, and back on every path
// (without a window probe; SO_REUSEADDR, which leaving repair clears, as it was).
class RepairMode {
 public:
  RepairMode(int fd, const std::string& w) : fd_(fd) {
    reuse_ = intOption(fd, SOL_SOCKET, SO_REUSEADDR).value_or(0);
    int on = TCP_REPAIR_ON;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) != 0)
      throwErrno(w +
                 ": TCP_REPAIR (needs CAP_NET_ADMIN; or rerun with --tcp-close to restore it "
                 "as closed by its peer)");
  }
  ~RepairMode() {
    int off = TCP_REPAIR_OFF_NO_WP;
    if (setsockopt(fd_, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) != 0) {
      off = TCP_REPAIR_OFF;
      setsockopt(fd_, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
    }
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &reuse_, sizeof reuse_);
  }
  RepairMode(const RepairMode&) = delete;
  RepairMode& operator=(const RepairMode&) = delete;

 private:
  int fd_;
  int reuse_ = 0;
};

// What TCP_REPAIR needs to make the connection again: both queues with
// their sequence numbers, the negotiated options, the window, the timestamp.
Json repairState(int fd, int id, const std::string& w, FdDumpContext& ctx) {
  RepairMode repair(fd, w);
  Json r;
  for (auto [queue, name, ioc] : {std::tuple{int(TCP_SEND_QUEUE), "send", SIOCOUTQ},
                                  std::tuple{int(TCP_RECV_QUEUE), "recv", SIOCINQ}}) {
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) != 0)
      throwErrno(w + ": TCP_REPAIR_QUEUE");
    auto seq = intOption(fd, IPPROTO_TCP, TCP_QUEUE_SEQ);
    if (!seq) throwErrno(w + ": TCP_QUEUE_SEQ");
    int len = 0;
    if (ioctl(fd, ioc, &len) != 0) throwErrno(w + ": reading its queue's size");
    Json q;
    q["seq"] = uint32_t(*seq);
    q["size"] = len;
    if (len > 0) {
      std::string data = peekQueue(fd, size_t(len), w);
      q["file"] = fmt::format("inet-{}.{}", id, name);
      q["xxh3"] = ctx.writer.writeBlob(q["file"].get<std::string>(), data.data(), data.size());
    }
    r[name] = q;
  }
  int none = TCP_NO_QUEUE;
  setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof none);
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) throwErrno(w + ": TCP_INFO");
  r["mss"] = ti.tcpi_snd_mss;
  r["sack"] = (ti.tcpi_options & TCPI_OPT_SACK) != 0;
  r["timestamps"] = (ti.tcpi_options & TCPI_OPT_TIMESTAMPS) != 0;
  if (ti.tcpi_options & TCPI_OPT_WSCALE) {
    r["snd_wscale"] = unsigned(ti.tcpi_snd_wscale);
    r["rcv_wscale"] = unsigned(ti.tcpi_rcv_wscale);
  }
  if (auto ts = intOption(fd, IPPROTO_TCP, TCP_TIMESTAMP)) r["timestamp"] = uint32_t(*ts);
  tcp_repair_window win{};
  len = sizeof win;
  if (getsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, &len) == 0)
    r["window"] = {win.snd_wl1, win.snd_wnd, win.max_window, win.rcv_wnd, win.rcv_wup};
  return r;
}

// Established connections: both ends in the tree come back through
// TCP_REPAIR; one to outside only when named (--external), or with --tcp-close.
void checkConnections(FdDumpContext& ctx) {
  std::map<int, std::pair<pid_t, int>> holder;  // file id -> first pid, fd
  std::map<int, bool> external;
  for (const auto& proc : ctx.image.processes)
    for (const auto& e : proc.fds) {
      holder.try_emplace(e.file, proc.pid, e.fd);
      for (const auto& [pid, fd] : ctx.externals)
        if (pid == proc.pid && fd == e.fd) external[e.file] = true;
    }
  auto key = [](const Json& a) {
    return std::tuple(a["host"].get<std::string>(), a["port"].get<int>());
  };
  std::vector<std::tuple<std::string, int, std::string, int>> conns;  // local, peer
  for (const auto& f : ctx.image.files)
    if (f.kind == image::FileKind::InetSocket && f.state.value("type", "") == "tcp" &&
        f.state.contains("peer") && f.state.contains("local"))
      conns.emplace_back(std::tuple_cat(key(f.state["local"]), key(f.state["peer"])));
  for (auto& f : ctx.image.files) {
    if (f.kind != image::FileKind::InetSocket || f.state.value("type", "") != "tcp") continue;
    const std::string state = f.state.value("state", "");
    if (state != "ESTABLISHED" && state != "CLOSE_WAIT") continue;
    auto [pid, fd] = holder[f.id];
    const std::string w =
        fmt::format("pid {} fd {} (TCP {} -> {})", pid, fd, fromJson(f.state["local"]).show(),
                    fromJson(f.state["peer"]).show());
    auto mirror = std::tuple_cat(key(f.state["peer"]), key(f.state["local"]));
    bool inTree = std::find(conns.begin(), conns.end(), mirror) != conns.end();
    if (inTree && state == "ESTABLISHED" && !external[f.id]) {
      auto local = std::find_if(ctx.seen.begin(), ctx.seen.end(),
                                [&](const auto& s) { return s.first == f.id; });
      if (local == ctx.seen.end()) throw Error(w + ": ckpt's duplicate of it is gone");
      f.state["repair"] = repairState(local->second.get(), f.id, w, ctx);
      continue;
    }
    if (!external[f.id] && !ctx.tcpClose) {
      if (inTree)  // CLOSE_WAIT: TCP_REPAIR cannot make a half-closed connection
        throw Error(fmt::format(
            "{}: both ends are in the tree, but its peer has shut down writing; ckpt cannot "
            "restore a half-closed TCP connection; rerun with --tcp-close to restore it as "
            "closed by its peer",
            w));
      throw Error(fmt::format(
          "{}: connected outside the tree; rerun with --external {}:{} or --tcp-close to "
          "restore it as closed by its peer",
          w, pid, fd));
    }
    f.state["closed"] = true;
    if (f.state.contains("unsent"))
      log::warn("{}: {} bytes it wrote were not yet acknowledged by the peer; they are lost", w,
                f.state["unsent"].get<int>());
    log::info("{}: restored as closed by its peer ({})", w,
              external[f.id] ? "--external" : "--tcp-close");
  }
}

// ---- Restore --------------------------------------------------------------------------

std::string readBlob(const std::string& dir, const Json& q) {
  std::string path = dir + "/" + q.at("file").get<std::string>();
  std::string data = readImageFile(path, q.at("size").get<size_t>());
  if (image::xxh3(data.data(), data.size()) != q.at("xxh3").get<uint64_t>())
    throw Error(fmt::format("{}: checksum mismatch: the image is corrupt", path));
  return data;
}

UniqueFd newSocket(int family, int type) {
  UniqueFd fd(::socket(family, type | SOCK_CLOEXEC, 0));
  if (!fd) throwErrno(fmt::format("creating a {} socket", family == AF_INET6 ? "IPv6" : "IPv4"));
  return fd;
}

void setReuse(int fd, int on) {
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
}

// Binds to the saved address. TCP binds with SO_REUSEADDR on, so that the
// connections of the program's past (TIME_WAIT) do not hold the port.
int bindTo(int fd, bool tcp, int reuseaddr, const Address& a) {
  setReuse(fd, tcp ? 1 : reuseaddr);
  return ::bind(fd, a.raw(), a.len) == 0 ? 0 : errno;
}

void setRepair(int fd, int how, const std::string& label) {
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &how, sizeof how) != 0)
    throwErrno(label + ": TCP_REPAIR (restoring a TCP connection needs CAP_NET_ADMIN)");
}

// Both ends were in the tree: the connection is made again in repair mode,
// without a packet, from its saved sequence numbers, options and queues.
void repairConnection(int fd, const Json& r, const Address& peer, const std::string& label,
                      const std::string& imageDir) {
  auto setq = [&](int queue) {
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) != 0)
      throwErrno(label + ": TCP_REPAIR_QUEUE");
  };
  for (auto [queue, name] :
       {std::pair{int(TCP_SEND_QUEUE), "send"}, std::pair{int(TCP_RECV_QUEUE), "recv"}}) {
    const Json& q = r.at(name);
    setq(queue);
    uint32_t seq = q.at("seq").get<uint32_t>() - q.at("size").get<uint32_t>();
    if (setsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, sizeof seq) != 0)
      throwErrno(label + ": TCP_QUEUE_SEQ");
  }
  if (::connect(fd, peer.raw(), peer.len) != 0)
    throwErrno(fmt::format("{}: connecting to {} in repair mode", label, peer.show()));
  std::vector<tcp_repair_opt> opts;
  opts.push_back({TCPOPT_MAXSEG, r.at("mss").get<uint32_t>()});
  if (r.contains("snd_wscale"))
    opts.push_back(
        {TCPOPT_WINDOW, r["snd_wscale"].get<uint32_t>() | (r["rcv_wscale"].get<uint32_t>() << 16)});
  if (r.value("sack", false)) opts.push_back({TCPOPT_SACK_PERMITTED, 0});
  if (r.value("timestamps", false)) opts.push_back({TCPOPT_TIMESTAMP, 0});
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts.data(),
                 socklen_t(opts.size() * sizeof(tcp_repair_opt))) != 0)
    throwErrno(label + ": TCP_REPAIR_OPTIONS");
  if (r.contains("timestamp")) {
    uint32_t ts = r["timestamp"].get<uint32_t>();
    if (setsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &ts, sizeof ts) != 0)
      log::warn("{}: its TCP timestamp is not restored: {}", label, strerror(errno));
  }
  for (auto [queue, name] :
       {std::pair{int(TCP_RECV_QUEUE), "recv"}, std::pair{int(TCP_SEND_QUEUE), "send"}}) {
    const Json& q = r.at(name);
    if (!q.contains("file")) continue;
    std::string data = readBlob(imageDir, q);
    setq(queue);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) throwErrno(fmt::format("{}: refilling its {} queue", label, name));
      done += size_t(n);
    }
  }
  if (r.contains("window")) {
    auto v = r["window"].get<std::vector<uint32_t>>();
    if (v.size() == 5) {
      tcp_repair_window win{v[0], v[1], v[2], v[3], v[4]};
      if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_WINDOW, &win, sizeof win) != 0)
        log::warn("{}: its TCP window is not restored: {}", label, strerror(errno));
    }
  }
  setq(TCP_NO_QUEUE);
  // No window probe: the peer may not be made yet, and a packet to a
  // 4-tuple nobody holds would come back as a reset.
  int off = TCP_REPAIR_OFF_NO_WP;
  if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off) != 0)
    setRepair(fd, TCP_REPAIR_OFF, label);
}

// A connection whose peer is gone (see the file's comment).
void closedConnection(int fd, int family, const Json& st, const std::string& label,
                      const std::string& imageDir) {
  Address loop;
  auto local = nameOf(fd, false);
  if (family == AF_INET6 && local &&
      IN6_IS_ADDR_V4MAPPED(&reinterpret_cast<const sockaddr_in6*>(&local->sa)->sin6_addr)) {
    // An IPv4 connection of an IPv6 socket: its stand-in peer is IPv4 too.
    loop = fromJson(Json{{"family", "inet6"}, {"host", "::ffff:127.0.0.1"}, {"port", 0}});
  } else if (family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&loop.sa);
    s6->sin6_family = AF_INET6;
    s6->sin6_addr = in6addr_loopback;
    loop.len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&loop.sa);
    s4->sin_family = AF_INET;
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    loop.len = sizeof *s4;
  }
  UniqueFd listener = newSocket(family, SOCK_STREAM);
  if (::bind(listener.get(), loop.raw(), loop.len) != 0 || ::listen(listener.get(), 1) != 0)
    throwErrno(fmt::format("{}: a temporary listener on loopback", label));
  auto target = nameOf(listener.get(), false);
  if (!target) throwErrno("getsockname");
  if (::connect(fd, target->raw(), target->len) != 0)
    throwErrno(fmt::format("{}: connecting to a temporary listener on {}", label, target->show()));
  UniqueFd other(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!other) throwErrno(fmt::format("{}: accepting on the temporary listener", label));
  listener.reset();
  if (st.contains("queue")) {
    std::string data = readBlob(imageDir, st["queue"]);
    int big = int(std::min<size_t>(data.size() * 2 + (1 << 20), 1u << 30));
    setsockopt(other.get(), SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big);
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n =
          ::send(other.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EAGAIN) {
        pollfd w{other.get(), POLLOUT, 0};
        if (::poll(&w, 1, 5000) == 1) continue;
        throw Error(
            fmt::format("{}: its {} saved bytes do not fit its receive buffer (restore "
                        "as root, or raise net.core.rmem_max)",
                        label, data.size()));
      }
      if (n < 0) throwErrno(fmt::format("{}: queueing {} saved bytes", label, data.size()));
      done += size_t(n);
    }
  }
  other.reset();  // FIN after the data
  // Wait until the FIN is in, so that a read after the queued data sees EOF.
  pollfd pf{fd, POLLRDHUP, 0};
  if (::poll(&pf, 1, 5000) != 1)
    throw Error(fmt::format("{}: the temporary peer's FIN did not arrive", label));
  if (::shutdown(fd, SHUT_WR) != 0) throwErrno(fmt::format("{}: shutdown", label));
}

UniqueFd restore(const image::FileDesc& d, FdRestoreContext& ctx) {
  const Json& st = d.state;
  if (!st.is_object() || !st.contains("type"))
    throw Error(fmt::format("manifest: inet socket {} has no state", d.id));
  const bool tcp = st["type"].get<std::string>() == "tcp";
  const int type = tcp ? SOCK_STREAM : SOCK_DGRAM;
  const int family = st.value("family", "inet") == "inet6" ? AF_INET6 : AF_INET;
  const std::string state = st.value("state", "");
  const std::string label =
      fmt::format("{} socket {}", tcp ? "TCP" : "UDP", d.path.empty() ? "(unbound)" : d.path);
  const Json options = st.value("options", Json::object());
  const bool repair = tcp && st.contains("repair");
  if (repair) {
    // A listener on the same address is made first: it could not bind once
    // the connection holds the port (it gets it through ctx.files).
    Address local = fromJson(st.at("local"));
    for (const auto& other : ctx.image.files)
      if (other.kind == image::FileKind::InetSocket && other.state.value("state", "") == "LISTEN" &&
          other.state.contains("local") && !ctx.files.count(other.id)) {
        Address l = fromJson(other.state["local"]);
        if (l.port() == local.port() && l.family() == local.family())
          ctx.files.emplace(other.id, restore(other, ctx));
      }
  }
  UniqueFd fd = newSocket(family, type);
  restoreOptions(fd.get(), family, type, options, label);
  // Repair mode binds over any socket (SK_FORCE_REUSE): the port is the connection's own.
  if (repair) setRepair(fd.get(), TCP_REPAIR_ON, label);

  if (st.contains("local")) {
    Address local = fromJson(st["local"]);
    int err = repair ? (::bind(fd.get(), local.raw(), local.len) == 0 ? 0 : errno)
                     : bindTo(fd.get(), tcp, options.value("reuseaddr", 0), local);
    if (err) {
      if (repair || (!st.contains("closed") && !(tcp && state == "ESTABLISHED") &&
                     !(tcp && state == "CLOSE_WAIT")))
        throw SysError(fmt::format("{}: binding to {} again (is another program using it now?)",
                                   label, local.show()),
                       err);
      log::warn("{}: cannot bind to {} again ({}); it gets another local port", label, local.show(),
                strerror(err));
    }
  }
  if (tcp && state == "LISTEN") {
    if (::listen(fd.get(), st.value("backlog", SOMAXCONN)) != 0)
      throwErrno(fmt::format("{}: listen", label));
  } else if (repair) {
    repairConnection(fd.get(), st["repair"], fromJson(st.at("peer")), label, ctx.imageDir);
  } else if (tcp && st.contains("closed")) {
    closedConnection(fd.get(), family, st, label, ctx.imageDir);
  } else if (tcp && st.contains("peer")) {
    throw Error(fmt::format("{}: connected, but not marked to restore as closed", label));
  } else if (!tcp && st.contains("peer")) {
    Address peer = fromJson(st["peer"]);
    if (::connect(fd.get(), peer.raw(), peer.len) != 0)
      throwErrno(fmt::format("{}: connecting to {} again", label, peer.show()));
  }
  setReuse(fd.get(), options.value("reuseaddr", 0));
  if (fcntl(fd.get(), F_SETFL, d.flags & (O_NONBLOCK | O_ASYNC)) != 0)
    throwErrno(fmt::format("{}: setting its file flags", label));
  return fd;
}

}  // namespace

extern const FdKind kInetSocketKind{
    "inet socket", matches, dump, restore, {image::FileKind::InetSocket}, nullptr};

}  // namespace ckpt
