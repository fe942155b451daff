// NETLINK_SOCK_DIAG queries about unix sockets (UNIX_DIAG): what the kernel
// knows of a socket that no call on its fd tells, such as its peer, the
// connections waiting in a listener's backlog and its shutdown state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"

namespace ckpt::sockdiag {

struct UnixSocketInfo {
  uint32_t ino = 0;
  uint8_t type = 0;   // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET
  uint8_t state = 0;  // TCP_ESTABLISHED, TCP_LISTEN, TCP_CLOSE (net/tcp_states.h)
  // The bound address: sun_path bytes as the kernel keeps them (a path ends
  // with its NUL, an abstract name starts with one); nullopt when unbound.
  std::optional<std::string> name;
  // The socket file's inode and device (kernel dev_t encoding), when bound to a path.
  std::optional<uint32_t> vfsIno, vfsDev;
  // The peer's inode; 0 when the peer is closed or has no inode yet (a
  // connection not yet accepted); nullopt when there is no peer.
  std::optional<uint32_t> peer;
  // A listener's connections not yet accepted, in queue order: the inode of
  // each one's client end (0 for a client already closed).
  std::vector<uint32_t> icons;
  // A listener: queued connections and the backlog; otherwise bytes queued
  // for reading (stream and seqpacket: all; datagram: the first one) and
  // the memory of what it sent that its peer has not read.
  uint32_t rqueue = 0, wqueue = 0;
  uint8_t shutdown = 0;  // RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2
};

// Converts the kernel's dev_t encoding (UNIX_DIAG_VFS) to st_dev's.
uint64_t userDev(uint32_t kernelDev);

// A NETLINK_SOCK_DIAG socket of ckpt. Sees the sockets of ckpt's network namespace.
class UnixDiag {
 public:
  UnixDiag();

  // One socket by inode, with everything above; nullopt when the kernel
  // knows no unix socket with that inode in this network namespace.
  std::optional<UnixSocketInfo> query(uint32_t ino);

  // Every unix socket of this network namespace, with names and socket files.
  std::vector<UnixSocketInfo> all();

 private:
  void send(uint16_t flags, uint32_t ino, uint32_t show);
  // Reads replies until the end of the answer; returns false on ENOENT.
  bool receive(std::vector<UnixSocketInfo>& out);

  UniqueFd nl_;
  uint32_t seq_ = 0;
};

}  // namespace ckpt::sockdiag
