// Server and client sequence numbers (see SequenceMap.hpp).
#include "x11proxy/proto/SequenceMap.hpp"

namespace ckpt::x11 {

void SequenceMap::clientRequest() {
  ++server_;
  ++client_;
  if (segments_.empty() || segments_.back().proxy) segments_.push_back({server_, client_, false});
}

std::uint64_t SequenceMap::proxyRequest() {
  identity_ = false;
  ++server_;
  if (segments_.empty() || !segments_.back().proxy) segments_.push_back({server_, client_, true});
  return server_;
}

void SequenceMap::newServer(std::uint64_t used) {
  identity_ = false;
  segments_.clear();
  server_ = used;
  // Events a new connection sends before the client's first request on it
  // belong to the proxy's requests, and show the client's last number.
  segments_.push_back({0, client_, true});
}

SequenceMap::Owner SequenceMap::lookup(std::uint16_t seq) {
  std::uint64_t full = server_ - std::uint16_t(std::uint16_t(server_) - seq);
  while (segments_.size() > 1 && segments_[1].serverFirst <= full) segments_.pop_front();
  Owner o;
  o.server = full;
  if (segments_.empty() || segments_.front().serverFirst > full) {
    o.client = std::uint16_t(client_ - (server_ - full));
    return o;
  }
  const Segment& s = segments_.front();
  o.proxy = s.proxy;
  o.client = std::uint16_t(s.proxy ? s.clientBase : s.clientBase + (full - s.serverFirst));
  return o;
}

}  // namespace ckpt::x11
