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
#include <optional>
#include <string>
#include <vector>

#include "core/util/UniqueFd.hpp"
#include "picture/Frame.hpp"
#include "x11proxy/proto/SequenceMap.hpp"
#include "x11proxy/proto/Tracker.hpp"
#include "x11proxy/proto/Translator.hpp"
#include "x11proxy/proxy/BodyPassthrough.hpp"
#include "x11proxy/proxy/Stream.hpp"
#include "x11proxy/proxy/Upstream.hpp"
#include "x11proxy/reattach/ServerFetch.hpp"

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
  // What to poll: nothing of the server while a checkpoint holds the session
  // (after a restore its old connection is a dead socket until reattach()).
  int pollServerFd() const { return checkpoint_ ? -1 : serverFd(); }
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

  // A picture of the client's largest mapped top-level window, as the
  // server shows it now, 8-bit RGB; nullopt when it has none.
  std::optional<picture::Frame> largestWindowPicture() const;

  // A checkpoint: everything the client sent is answered, what only the
  // server knows is read and kept in this process (so the image holds it),
  // and the session stops reading its client until forgetCheckpoint() (the
  // dump is over and the program goes on) or reattach() (it was restored).
  void prepareCheckpoint();
  void forgetCheckpoint() { checkpoint_.reset(); }
  bool heldByCheckpoint() const { return checkpoint_.has_value(); }
  // After a restore: the state saved at prepareCheckpoint() is made again on
  // the server at `to`, and the session goes on there.
  std::vector<std::string> reattach(const ServerAddress& to);

 private:
  bool handshake();
  void refuse(const std::string& reason);
  // Reads what the client sent, in steps, and parses it.
  void readRequests();
  void parseRequests();
  // Starts passing the body of the large PutImage whose start is unparsed
  // (`size` bytes in all) straight to the server; false when it is not one.
  bool passBodyThrough(std::size_t size);
  // Moves body bytes on, then (readOn) reads what follows the body;
  // finishBody() waits until the whole body is across.
  void pumpBody(bool readOn = true);
  void finishBody();
  void parseServer();
  bool finished() const;
  // A request of the proxy's own, after what the client sent so far; `done`
  // gets its reply (or error).
  void sendOwnRequest(std::vector<std::uint8_t> request,
                      std::function<void(std::span<const std::uint8_t>)> done = {});
  // sendOwnRequest of a request in the client's view (ids, atoms, opcodes).
  void sendOwnTranslated(std::vector<std::uint8_t> request);
  // Sends everything the client sent to the old server and waits until the
  // old server has answered all of it.
  void drain();
  // Connects to `to`, maps the client's view onto it, replays the model
  // with `fetched`, and makes it the session's server.
  std::vector<std::string> switchTo(const ServerAddress& to, const FetchedState& fetched);
  // The client's picture formats mapped onto the server `c` talks to
  // (PictFormats.hpp); throws when one the client made something with has
  // no like there.
  std::map<std::uint32_t, std::uint32_t> pictFormatsOn(xcb_connection_t* c, const ServerView& view,
                                                       const std::string& display) const;

  UniqueFd client_;
  std::string cookie_;
  ServerAddress server_;
  std::unique_ptr<Upstream> upstream_;
  ServerView clientView_;  // the first server's, which the client keeps
  // The first server's RENDER picture formats, whose numbers the client
  // keeps (read at the first move or checkpoint).
  std::vector<PictFormat> clientPictFormats_;
  Stream toServer_, toClient_;
  BodyPassthrough body_;
  bool setupDone_ = false, clientEof_ = false, serverEof_ = false, refused_ = false;
  Tracker tracker_;
  Translator translator_;
  SequenceMap sequences_;
  std::map<std::uint64_t, std::function<void(std::span<const std::uint8_t>)>> ownReplies_;
  std::optional<FetchedState> checkpoint_;
  // From a switch until the new server has answered the whole replay: its
  // echoes are kept from the client (ReplayEvents.hpp).
  bool replaying_ = false;
  // Once the replay is answered: MappingNotify to the client (ReplayEvents.hpp).
  bool notifyMappings_ = false;
};

}  // namespace ckpt::x11
