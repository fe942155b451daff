// One client connection through the proxy: the connection setup (cookie
// check, upstream connection with the user's credentials), then forwarding in
// both directions at message boundaries. Each message is shown to the
// Tracker (the model) and rewritten by the Translator once the connection
// has moved to another server (moveTo).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"
#include "x11proxy/proto/SequenceMap.hpp"
#include "x11proxy/proto/Tracker.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proxy/Stream.hpp"
#include "x11proxy/proxy/Upstream.hpp"

namespace ckpt::x11 {

// Where new connections go: the display and the credentials to reach it.
struct ServerAddress {
  std::string display, xauthority;
};

class Session {
 public:
  Session(UniqueFd client, std::string cookie, ServerAddress server);
  int clientFd() const { return client_.get(); }
  int serverFd() const { return upstream_ ? upstream_->fd() : -1; }
  short clientEvents() const;
  short serverEvents() const;
  // Handle readiness; false once the session is over.
  bool onClient(short revents);
  bool onServer(short revents);
  const Tracker& tracker() const { return tracker_; }
  bool ready() const { return setupDone_ && upstream_; }

  // Moves the connection to the server at `to`: the client's windows and
  // everything else it made leave the old server and appear on the new one;
  // the client goes on, unaware. Throws, before anything has changed on
  // either server, when the move cannot be done (the new server cannot be
  // reached, lacks an extension or a visual the client uses, or the old one
  // does not answer). Returns warnings about state that came back incomplete.
  std::vector<std::string> moveTo(const ServerAddress& to);

 private:
  bool handshake();
  void refuse(const std::string& reason);
  void parseRequests();
  void parseServer();
  bool finished() const;
  // A request of the proxy's own, after what the client sent so far; `done`
  // gets its reply (or error).
  void sendOwnRequest(std::vector<std::uint8_t> request,
                      std::function<void(std::span<const std::uint8_t>)> done = {});
  // Sends everything the client sent to the old server and waits until the
  // old server has answered all of it.
  void drain();

  UniqueFd client_;
  std::string cookie_;
  ServerAddress server_;
  std::unique_ptr<Upstream> upstream_;
  ServerView clientView_;  // the first server's, which the client keeps
  Stream toServer_, toClient_;
  bool setupDone_ = false, clientEof_ = false, serverEof_ = false, refused_ = false;
  Tracker tracker_;
  Translator translator_;
  SequenceMap sequences_;
  std::map<std::uint64_t, std::function<void(std::span<const std::uint8_t>)>> ownReplies_;
};

}  // namespace ckpt::x11
