// manifest.json: the JSON form of an Image (Model.hpp). Readable keys, enums as
// words, byte blobs as lowercase hex, page runs as compact arrays
// [addr, npages, zero, offset, xxh3]. Parsing checks every type and names the
// field in its error ("manifest.json: processes[2].threads[0].gpregs: expected
// hex string"): the input may be corrupt or hostile, and must never crash us.
//
// Strings (paths, comm) are arbitrary bytes on Linux but JSON strings must be
// UTF-8: a string that is not valid UTF-8 is written as {"hex": "<bytes>"}
// and read back byte for byte.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "core/image/Model.hpp"

namespace ckpt::image {

// ADL hooks for nlohmann::json. from_json throws ckpt::Error naming the field
// relative to the value given ("threads[0].gpregs: expected hex string").
void to_json(nlohmann::json& j, const PageRun& v);
void from_json(const nlohmann::json& j, PageRun& v);
void to_json(nlohmann::json& j, VmaKind v);
void from_json(const nlohmann::json& j, VmaKind& v);
void to_json(nlohmann::json& j, const Vma& v);
void from_json(const nlohmann::json& j, Vma& v);
void to_json(nlohmann::json& j, const SigAction& v);
void from_json(const nlohmann::json& j, SigAction& v);
void to_json(nlohmann::json& j, const ItimerValue& v);
void from_json(const nlohmann::json& j, ItimerValue& v);
void to_json(nlohmann::json& j, const PosixTimer& v);
void from_json(const nlohmann::json& j, PosixTimer& v);
void to_json(nlohmann::json& j, const Rlimit& v);
void from_json(const nlohmann::json& j, Rlimit& v);
void to_json(nlohmann::json& j, const Thread& v);
void from_json(const nlohmann::json& j, Thread& v);
void to_json(nlohmann::json& j, const MmFields& v);
void from_json(const nlohmann::json& j, MmFields& v);
void to_json(nlohmann::json& j, const Credentials& v);
void from_json(const nlohmann::json& j, Credentials& v);
void to_json(nlohmann::json& j, const FdEntry& v);
void from_json(const nlohmann::json& j, FdEntry& v);
void to_json(nlohmann::json& j, FileKind v);
void from_json(const nlohmann::json& j, FileKind& v);
void to_json(nlohmann::json& j, const FileDesc& v);
void from_json(const nlohmann::json& j, FileDesc& v);
void to_json(nlohmann::json& j, const Pipe& v);
void from_json(const nlohmann::json& j, Pipe& v);
void to_json(nlohmann::json& j, const Process& v);
void from_json(const nlohmann::json& j, Process& v);
void to_json(nlohmann::json& j, const Hook& v);
void from_json(const nlohmann::json& j, Hook& v);
void to_json(nlohmann::json& j, const Image& v);
void from_json(const nlohmann::json& j, Image& v);

// The words used for enums in the manifest (and by `ckpt inspect`).
const char* vmaKindName(VmaKind k);
const char* fileKindName(FileKind k);
const char* lockKindName(LockKind k);

// The bytes of manifest.json: indented objects, arrays of scalars on one line,
// one page run per line. Throws Error only for values JSON cannot hold.
std::string writeManifest(const Image& image);

// Step by step, so a reader can report a wrong format version before it
// tries to make sense of fields that version may not have:
// JSON syntax ("manifest.json: parse error at line 3, column 5: ..."),
nlohmann::json parseManifestJson(std::string_view text);
// the format_version field ("manifest.json: format_version: missing"),
int manifestFormatVersion(const nlohmann::json& j);
// and everything ("manifest.json: processes[2].pid: expected integer ...").
Image imageFromManifest(const nlohmann::json& j);

// All three, plus the version check ("manifest.json: format version 7, this
// ckpt reads version 1").
Image parseManifest(std::string_view text);

}  // namespace ckpt::image
