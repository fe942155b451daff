#include "vnc/rfb/Address.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt::vnc {
namespace {

bool parseNumber(const std::string& s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && out >= 0;
}

}  // namespace

std::string Address::describe() const {
  if (!unixPath.empty()) return unixPath;
  return fmt::format("{}:{}", host, port);
}

Address parseAddress(const std::string& text) {
  const auto bad = [&] {
    return Error(fmt::format(
        "'{}' is not a VNC address: give :N (display N on this host), HOST:PORT, or the path "
        "of a unix socket",
        text));
  };
  Address a;
  if (text.find('/') != std::string::npos) {
    a.unixPath = text;
    return a;
  }
  auto colon = text.rfind(':');
  if (colon == std::string::npos) throw bad();
  int n = 0;
  if (!parseNumber(text.substr(colon + 1), n)) throw bad();
  if (colon == 0) {
    if (n > 65535 - 5900) throw bad();
    a.host = "127.0.0.1";
    a.port = 5900 + n;
    return a;
  }
  if (n == 0 || n > 65535) throw bad();
  a.host = text.substr(0, colon);
  if (a.host.size() > 2 && a.host.front() == '[' && a.host.back() == ']')
    a.host = a.host.substr(1, a.host.size() - 2);
  a.port = n;
  return a;
}

}  // namespace ckpt::vnc
