// One client connection through the proxy (see Session.hpp); the move to
// another server is in SessionMove.cpp.
#include "x11proxy/proxy/Session.hpp"
#include "x11proxy/proto/CoreOpcodes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "x11proxy/proto/Wire.hpp"
#include "x11proxy/reattach/ReplayEvents.hpp"

namespace ckpt::x11 {
namespace {

constexpr std::uint8_t kKeymapNotify = 11, kZPixmap = 2;

}  // namespace

Session::Session(UniqueFd client, std::string cookie, ServerAddress server)
    : client_(std::move(client)), cookie_(std::move(cookie)), server_(std::move(server)) {
  ::fcntl(client_.get(), F_SETFL, ::fcntl(client_.get(), F_GETFL) | O_NONBLOCK);
  int size = 4 * 1024 * 1024;
  ::setsockopt(client_.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(client_.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
}

short Session::clientEvents() const {
  short ev = 0;
  bool reading = body_.active() ? body_.wantsRead() : !toServer_.full();
  if (!clientEof_ && reading && !refused_ && !checkpoint_) ev |= POLLIN;
  if (toClient_.pendingWrite()) ev |= POLLOUT;
  return ev;
}

short Session::serverEvents() const {
  short ev = 0;
  if (!serverEof_ && !toClient_.full()) ev |= POLLIN;
  if (toServer_.pendingWrite() || body_.wantsWrite()) ev |= POLLOUT;
  return ev;
}

bool Session::finished() const {
  // A side that has gone ends the session once what it sent has been passed on.
  if (clientEof_ && !toServer_.pendingWrite()) return true;
  if (serverEof_ && !toClient_.pendingWrite()) return true;
  return false;
}

bool Session::onClient(short revents) {
  // A checkpoint taken since the poll (the hook runs in the same loop round)
  // holds the client's requests where they are: read now, they would be
  // translated for the old server and sent to the new one.
  if ((revents & (POLLIN | POLLHUP | POLLERR)) && !checkpoint_) {
    if (body_.active()) {
      pumpBody();
    } else {
      readRequests();
    }
    if (!setupDone_) return !finished() && !refused_;
  }
  if (revents & POLLOUT) {
    if (!toClient_.flush(client_.get())) clientEof_ = true;
    if (refused_ && !toClient_.pendingWrite()) return false;
  }
  if (upstream_ && !checkpoint_ && !body_.active() && !toServer_.flush(serverFd()))
    serverEof_ = true;
  return !finished();
}

void Session::readRequests() {
  // In steps, so a large PutImage is seen by its header before its body is
  // read: the body can then pass through without being copied (BodyPassthrough.hpp).
  constexpr std::size_t kStep = 16 * 1024;
  for (;;) {
    bool open = toServer_.fill(client_.get(), kStep);
    if (!open) clientEof_ = true;
    if (!setupDone_ && !handshake()) return;
    if (setupDone_) parseRequests();
    if (body_.active()) return pumpBody();
    if (!open || toServer_.lastFill() < kStep || toServer_.full()) return;
  }
}

void Session::pumpBody(bool readOn) {
  // What was parsed before the body (its request's header first) goes ahead of it.
  if (toServer_.pendingWrite() && !toServer_.flush(serverFd())) serverEof_ = true;
  int server = toServer_.pendingWrite() || serverEof_ ? -1 : serverFd();
  switch (body_.pump(client_.get(), server)) {
    case BodyPassthrough::Result::kClientGone:
      clientEof_ = true;
      break;
    case BodyPassthrough::Result::kServerGone:
      serverEof_ = true;
      break;
    case BodyPassthrough::Result::kDone:
      // The client may have sent more after the body.
      if (readOn && !clientEof_) readRequests();
      break;
    case BodyPassthrough::Result::kMore:
      break;
  }
}

void Session::finishBody() {
  // A request of the proxy's own may not cut into a body on its way: wait
  // for the client to send the rest (it is in the middle of a write).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (body_.active() && !clientEof_ && !serverEof_) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      throw Error("x11: the client did not finish sending an image within 5 s: try again");
    pollfd fds[2] = {{client_.get(), short(body_.wantsRead() ? POLLIN : 0), 0},
                     {serverFd(), short(serverEvents() & POLLOUT), 0}};
    if (::poll(fds, 2, int(left.count())) < 0 && errno != EINTR) throwErrno("poll");
    pumpBody(false);
  }
  if (body_.active()) throw Error("x11: a connection ended in the middle of an image");
}

bool Session::onServer(short revents) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    if (!toClient_.fill(serverFd())) serverEof_ = true;
    parseServer();
  }
  if (revents & POLLOUT) {
    if (body_.active())
      pumpBody();
    else if (!toServer_.flush(serverFd()))
      serverEof_ = true;
  }
  if (!toClient_.flush(client_.get())) clientEof_ = true;
  return !finished();
}

void Session::refuse(const std::string& reason) {
  // A connection-refused setup reply: status 0 (Failed), the reason's length,
  // the protocol version, the reason padded to 4 bytes.
  std::size_t padded = (reason.size() + 3) & ~std::size_t(3);
  std::vector<std::uint8_t> reply(8 + padded, 0);
  reply[1] = std::uint8_t(reason.size());
  put16(&reply[2], 11);
  put16(&reply[4], 0);
  put16(&reply[6], std::uint16_t(padded / 4));
  std::memcpy(&reply[8], reason.data(), reason.size());
  (void)!::write(client_.get(), reply.data(), reply.size());
  log::info("x11: refused a client: {}", reason);
  refused_ = true;
  clientEof_ = true;
}

bool Session::handshake() {
  if (toServer_.unparsedSize() < 12) return false;
  const std::uint8_t* p = toServer_.unparsed();
  std::size_t size = setupRequestSize(p);
  if (toServer_.unparsedSize() < size) return false;
  if (p[0] != 'l') {
    refuse("ckpt x11 proxy: big-endian clients are not supported");
    return false;
  }
  std::uint16_t nameLen = get16(p + 6), dataLen = get16(p + 8);
  std::string name(reinterpret_cast<const char*>(p + 12), nameLen);
  std::string data(reinterpret_cast<const char*>(p + 12 + ((nameLen + 3) & ~3)), dataLen);
  if (name != "MIT-MAGIC-COOKIE-1" || data != cookie_) {
    refuse("Authorization required, but no authorization protocol specified");
    return false;
  }
  toServer_.markParsed(size);
  toServer_.skipParsed(size);  // the server gets the user's own credentials, from libxcb
  try {
    upstream_ = std::make_unique<Upstream>(server_.display, server_.xauthority);
  } catch (const Error& e) {
    refuse("ckpt x11 proxy: cannot connect to the X server " + server_.display);
    log::warn("{}", e.what());
    return false;
  }
  clientView_ = upstream_->view();
  // The server's setup reply, as libxcb received it, goes to the client as is.
  auto setup = upstream_->setupBytes();
  std::size_t at = 0;
  while (at < setup.size()) {
    ssize_t n = ::write(client_.get(), setup.data() + at, setup.size() - at);
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{client_.get(), POLLOUT, 0};
      ::poll(&pfd, 1, 1000);
      continue;
    }
    if (n <= 0) {
      clientEof_ = true;
      return false;
    }
    at += std::size_t(n);
  }
  setupDone_ = true;
  return true;
}

void Session::parseRequests() {
  for (;;) {
    std::size_t size = requestSize(toServer_.unparsed(), toServer_.unparsedSize());
    if (size > toServer_.unparsedSize() && passBodyThrough(size)) return;
    if (size == 0 || size > toServer_.unparsedSize()) return;
    std::span<std::uint8_t> r(toServer_.unparsed(), size);
    tracker_.holdFree(r);
    tracker_.clientRequest(r);
    sequences_.clientRequest();
    if (r[0] == op::QueryExtension) Translator::hideInQueryExtension(r);
    if (translator_.active()) {
      // The table by the client's opcodes, before they are rewritten.
      translator_.request(r, tracker_.requestLayout(r[0], r[1]));
    }
    toServer_.markParsed(size);
    // Held pixmaps and pictures nothing uses any more, after the request
    // that dropped their last use.
    for (auto& free : tracker_.releaseHeld()) sendOwnTranslated(std::move(free));
  }
}

void Session::sendOwnTranslated(std::vector<std::uint8_t> request) {
  if (translator_.active())
    translator_.request(request, tracker_.requestLayout(request[0], request[1]));
  sendOwnRequest(std::move(request));
}

bool Session::passBodyThrough(std::size_t size) {
  // Only PutImage: its pixels hold no ids, its header all there is to translate.
  const std::uint8_t* p = toServer_.unparsed();
  std::size_t have = toServer_.unparsedSize();
  std::size_t header = 24 + (get16(&p[2]) == 0 ? 4 : 0);  // BIG-REQUESTS: 32-bit length
  if (p[0] != op::PutImage || have < header || size - have < BodyPassthrough::kMinBody)
    return false;
  if (!body_.start(size - have)) return false;
  std::span<std::uint8_t> head(toServer_.unparsed(), header);
  tracker_.clientRequest(head);
  sequences_.clientRequest();
  if (translator_.active()) translator_.request(head, tracker_.requestLayout(p[0], p[1]));
  toServer_.markParsed(have);
  return true;
}

void Session::sendOwnRequest(std::vector<std::uint8_t> request,
                             std::function<void(std::span<const std::uint8_t>)> done) {
  if (body_.active()) finishBody();
  std::uint64_t seq = sequences_.proxyRequest();
  if (done) ownReplies_[seq] = std::move(done);
  toServer_.insertParsed(request);
}

void Session::parseServer() {
  for (;;) {
    std::size_t size = serverMessageSize(toClient_.unparsed(), toClient_.unparsedSize());
    if (size == 0 || size > toClient_.unparsedSize()) return;
    std::span<std::uint8_t> m(toClient_.unparsed(), size);
    std::uint8_t kind = m[0] & 0x7f;
    SequenceMap::Owner owner;
    if (kind != kKeymapNotify) owner = sequences_.lookup(get16(&m[2]));
    if (owner.proxy && (kind == 0 || kind == 1)) {
      // An answer to the proxy's own request: the client never sees it.
      auto it = ownReplies_.find(owner.server);
      if (it != ownReplies_.end()) {
        it->second(m);
        ownReplies_.erase(it);
      } else if (kind == 0 && m[10] == op::SetInputFocus) {
        // The focus given back after a reattach: a window manager there may
        // not have shown the window yet (BadMatch); it gives the focus itself.
        log::debug("x11: {} did not take the input focus back (error {})", server_.display, m[1]);
      } else if (kind == 0) {
        log::warn(
            "x11: the X server {} refused a request of the proxy's own "
            "(error {}, opcode {}.{})",
            server_.display, m[1], m[10], get16(&m[8]));
      }
      toClient_.erase(0, size);
      if (notifyMappings_) {
        notifyMappings_ = false;
        for (const auto& e :
             mappingNotifiesAfterMove(clientView_.minKeycode, clientView_.maxKeycode, owner.client))
          toClient_.insertParsed(e);
      }
      continue;
    }
    if (kind != kKeymapNotify && !sequences_.identity()) put16(&m[2], owner.client);
    if (kind == 1) {
      const RequestLayout* layout = tracker_.layoutFor(get16(&m[2]));
      translator_.reply(m, layout);
      if (translator_.mapsPixels() && layout == findRequest(coreProtocol(), op::GetImage) &&
          tracker_.coreDataFor(get16(&m[2])) == kZPixmap)
        translator_.zPixmapImageReply(m);
      if (layout && layout == findRequest(coreProtocol(), op::ListExtensions)) {
        std::size_t shorter = Translator::hideInListExtensions(m);
        toClient_.erase(shorter, size - shorter);
        size = shorter;
        m = m.first(size);
      }
    } else if (kind == 0) {
      translator_.error(m);
    } else {
      translator_.event(m, false);
      if (replaying_ && replayEcho(tracker_.model(), m)) {
        toClient_.erase(0, size);
        continue;
      }
    }
    tracker_.serverMessage(m);
    toClient_.markParsed(size);
  }
}

}  // namespace ckpt::x11
