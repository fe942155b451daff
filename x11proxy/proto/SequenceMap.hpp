// Sequence numbers as the client counts them and as the server does. They
// part when the proxy sends requests of its own (a reattach's replay, a
// sync) or the connection moves to a new server: every reply, event and error
// names the server's number, and the client must see its own.
#pragma once

#include <cstdint>
#include <deque>

namespace ckpt::x11 {

class SequenceMap {
 public:
  struct Owner {
    bool proxy = false;        // the proxy's own request
    std::uint64_t server = 0;  // the full server sequence number
    std::uint16_t client = 0;  // what the client sees (its last request, for the proxy's)
  };

  // One more request of the client's went to the server.
  void clientRequest();
  // One request of the proxy's went to the server; returns its server number.
  std::uint64_t proxyRequest();
  // A new server connection on which `used` requests were already sent (and
  // answered) by the proxy.
  void newServer(std::uint64_t used);
  // The request behind a message that carries the 16-bit number `seq`.
  // Messages come in order: earlier history is forgotten.
  Owner lookup(std::uint16_t seq);
  // Nothing to rewrite: no request of the proxy's was ever sent.
  bool identity() const { return identity_; }
  std::uint64_t lastServer() const { return server_; }

 private:
  struct Segment {
    std::uint64_t serverFirst, clientBase;
    bool proxy;
  };
  std::deque<Segment> segments_;
  std::uint64_t server_ = 0, client_ = 0;
  bool identity_ = true;
};

}  // namespace ckpt::x11
