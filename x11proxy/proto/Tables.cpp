// Lookups over the generated protocol tables.
#include "x11proxy/proto/Tables.hpp"

namespace ckpt::x11 {

const ExtensionLayout& coreProtocol() {
  static const ExtensionLayout* core = findExtension("");
  return *core;
}

const ExtensionLayout* findExtension(std::string_view xname) {
  for (const auto& e : generatedModules())
    if (xname == e.xname) return &e;
  return nullptr;
}

const RequestLayout* findRequest(const ExtensionLayout& ext, unsigned code) {
  for (const auto& r : ext.requests)
    if (r.request.code == code) return &r;
  return nullptr;
}

const MessageLayout* findEvent(const ExtensionLayout& ext, unsigned code, bool generic) {
  for (const auto& e : ext.events)
    if (e.code == code && e.generic == generic) return &e;
  return nullptr;
}

const MessageLayout* findError(const ExtensionLayout& ext, unsigned code) {
  for (const auto& e : ext.errors)
    if (e.code == code) return &e;
  return nullptr;
}

}  // namespace ckpt::x11
