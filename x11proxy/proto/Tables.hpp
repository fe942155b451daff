// The shapes of the protocol tables that x11proxy/gen/gen_tables.py generates
// from xcb-proto at build time, and the lookups over them.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "x11_id_kinds.hpp"  // generated: enum class IdKind

namespace ckpt::x11 {

// A field holding an id, at a fixed offset from the start of the message
// (or of a list element).
struct IdField {
  std::uint16_t offset;
  IdKind kind;
  const char* name;
};

// The first variable-length list of a message, when its elements hold ids.
struct ListLayout {
  std::uint16_t offset;  // where the list starts, when it is the first variable part
  std::uint16_t stride;  // bytes per element
  std::span<const IdField> ids;
  const char* name;
};

// One bit of a value mask (CreateWindow, ChangeGC, ConfigureWindow, ...):
// present values follow in the order of their bits.
struct ValueBit {
  std::uint32_t mask;
  std::uint8_t size;  // bytes of the value on the wire
  IdKind kind;        // IdKind::None for plain numbers
  const char* name;
};

struct ValueListLayout {
  std::uint16_t maskOffset;
  std::uint8_t maskSize;  // 2 or 4
  std::uint16_t listOffset;
  std::span<const ValueBit> bits;
};

// A request, reply, event or error.
struct MessageLayout {
  const char* name;
  std::uint16_t code;       // opcode (minor for extensions), event or error number
  std::uint16_t fixedSize;  // bytes before the first variable part
  bool generic;             // an event carried in a GenericEvent (code = evtype)
  std::span<const IdField> ids;
  const ListLayout* list;         // nullptr: no list of ids
  const ValueListLayout* values;  // nullptr: no value list
};

struct RequestLayout {
  MessageLayout request;
  const MessageLayout* reply;  // nullptr: the request has no reply
};

// One xcb-proto module: the core protocol (xname "") or an extension.
struct ExtensionLayout {
  const char* xname;   // the name QueryExtension takes
  const char* header;  // xcb-proto's file name
  std::span<const RequestLayout> requests;
  std::span<const MessageLayout> events;
  std::span<const MessageLayout> errors;
};

struct IdUnion {
  IdKind kind;  // DRAWABLE, FONTABLE, ...
  std::span<const IdKind> members;
};

std::span<const ExtensionLayout> generatedModules();
std::span<const IdUnion> idUnions();
const char* idKindName(IdKind kind);

// Lookups (linear over small tables, or indexed once).
const ExtensionLayout& coreProtocol();
const ExtensionLayout* findExtension(std::string_view xname);
const RequestLayout* findRequest(const ExtensionLayout& ext, unsigned code);
const MessageLayout* findEvent(const ExtensionLayout& ext, unsigned code, bool generic);
const MessageLayout* findError(const ExtensionLayout& ext, unsigned code);

}  // namespace ckpt::x11
