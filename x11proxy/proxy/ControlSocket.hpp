// How `ckpt x11 move` reaches a running proxy: an abstract unix seqpacket
// socket named "ckpt-x11:<pid of the proxy>", serving only its own user (and
// root). One JSON request, one JSON reply:
//   {"move":{"display":":2","xauthority":"/home/u/.Xauthority"}}
//   {"ok":true,"connections":1,"warnings":[...]} or {"ok":false,"error":"..."}
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/util/UniqueFd.hpp"

namespace ckpt::x11 {

std::string controlSocketName(pid_t proxy);

class ControlSocket {
 public:
  ControlSocket();  // listens on the name for this process
  int fd() const { return listener_.get(); }
  // Accepts one connection and reads its request; nullopt-like (empty json)
  // when the peer is not allowed or sent nothing usable. `conn` keeps the
  // connection for the reply.
  nlohmann::json accept(UniqueFd& conn);
  static void reply(const UniqueFd& conn, const nlohmann::json& answer);

 private:
  UniqueFd listener_;
};

// The client side: sends `request` to proxy `pid` and waits for its answer.
nlohmann::json askProxy(pid_t pid, const nlohmann::json& request, int timeoutMs);

}  // namespace ckpt::x11
