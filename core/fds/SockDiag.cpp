// UNIX_DIAG over NETLINK_SOCK_DIAG: one request, replies parsed into UnixSocketInfo.
#include "core/fds/SockDiag.hpp"

#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#include <cstring>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt::sockdiag {
namespace {

constexpr uint32_t kShowAll =
    UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_ICONS | UDIAG_SHOW_RQLEN;

UnixSocketInfo parse(const nlmsghdr* h) {
  if (h->nlmsg_len < NLMSG_LENGTH(sizeof(unix_diag_msg)))
    throw Error("sock_diag: a short UNIX_DIAG reply");
  auto* msg = static_cast<const unix_diag_msg*>(NLMSG_DATA(h));
  UnixSocketInfo s;
  s.ino = msg->udiag_ino;
  s.type = msg->udiag_type;
  s.state = msg->udiag_state;
  const char* at = reinterpret_cast<const char*>(msg) + NLMSG_ALIGN(sizeof(unix_diag_msg));
  const char* end = reinterpret_cast<const char*>(h) + h->nlmsg_len;
  while (at + sizeof(nlattr) <= end) {
    auto* a = reinterpret_cast<const nlattr*>(at);
    if (a->nla_len < sizeof(nlattr) || at + a->nla_len > end) break;
    const char* data = at + NLA_HDRLEN;
    size_t len = a->nla_len - NLA_HDRLEN;
    switch (a->nla_type & NLA_TYPE_MASK) {
      case UNIX_DIAG_NAME:
        s.name = std::string(data, len);
        break;
      case UNIX_DIAG_VFS:
        if (len >= sizeof(unix_diag_vfs)) {
          unix_diag_vfs v;
          std::memcpy(&v, data, sizeof v);
          s.vfsIno = v.udiag_vfs_ino;
          s.vfsDev = v.udiag_vfs_dev;
        }
        break;
      case UNIX_DIAG_PEER:
        if (len >= 4) {
          uint32_t p;
          std::memcpy(&p, data, 4);
          s.peer = p;
        }
        break;
      case UNIX_DIAG_ICONS:
        s.icons.resize(len / 4);
        std::memcpy(s.icons.data(), data, s.icons.size() * 4);
        break;
      case UNIX_DIAG_RQLEN:
        if (len >= sizeof(unix_diag_rqlen)) {
          unix_diag_rqlen q;
          std::memcpy(&q, data, sizeof q);
          s.rqueue = q.udiag_rqueue;
          s.wqueue = q.udiag_wqueue;
        }
        break;
      case UNIX_DIAG_SHUTDOWN:
        if (len >= 1) s.shutdown = uint8_t(data[0]);
        break;
      default:
        break;
    }
    at += NLA_ALIGN(a->nla_len);
  }
  return s;
}

}  // namespace

uint64_t userDev(uint32_t kernelDev) {
  return makedev(kernelDev >> 20, kernelDev & 0xfffff);
}

UnixDiag::UnixDiag() {
  nl_.reset(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl_) throwErrno("opening a NETLINK_SOCK_DIAG socket");
}

void UnixDiag::send(uint16_t flags, uint32_t ino, uint32_t show) {
  struct {
    nlmsghdr h;
    unix_diag_req r;
  } req{};
  req.h.nlmsg_len = sizeof req;
  req.h.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  req.h.nlmsg_flags = flags;
  req.h.nlmsg_seq = ++seq_;
  req.r.sdiag_family = AF_UNIX;
  req.r.udiag_states = ~0u;
  req.r.udiag_ino = ino;
  req.r.udiag_show = show;
  req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u;  // INET_DIAG_NOCOOKIE
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(nl_.get(), &req, sizeof req, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != ssize_t(sizeof req))
    throwErrno("sending a UNIX_DIAG request");
}

bool UnixDiag::receive(std::vector<UnixSocketInfo>& out) {
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::recv(nl_.get(), buf.data(), buf.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("reading a UNIX_DIAG reply");
    }
    bool done = false;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, size_t(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_seq != seq_) continue;
      if (h->nlmsg_type == NLMSG_DONE) return true;
      if (h->nlmsg_type == NLMSG_ERROR) {
        auto* e = static_cast<nlmsgerr*>(NLMSG_DATA(h));
        if (e->error == 0) return true;
        if (e->error == -ENOENT) return false;
        throw SysError("UNIX_DIAG request", -e->error);
      }
      if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY) {
        out.push_back(parse(h));
        if (!(h->nlmsg_flags & NLM_F_MULTI)) done = true;
      }
    }
    if (done) return true;
  }
}

std::optional<UnixSocketInfo> UnixDiag::query(uint32_t ino) {
  send(NLM_F_REQUEST, ino, kShowAll);
  std::vector<UnixSocketInfo> got;
  if (!receive(got) || got.empty()) return std::nullopt;
  return got.front();
}

std::vector<UnixSocketInfo> UnixDiag::all() {
  send(NLM_F_REQUEST | NLM_F_DUMP, 0, UDIAG_SHOW_NAME | UDIAG_SHOW_VFS);
  std::vector<UnixSocketInfo> got;
  receive(got);
  return got;
}

}  // namespace ckpt::sockdiag
