// manifest.json <-> Image. Encoding is a template over the JSON type so the
// ADL hooks (nlohmann::json) and the writer (ordered_json, which keeps keys in
// a readable order) share one description of each struct. Decoding walks the
// document along the structure we expect, never recursing into unknown
// values, so hostile nesting cannot exhaust the stack.
#include "core/image/Manifest.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <concepts>
#include <limits>
#include <utility>

#include "core/util/Error.hpp"

namespace ckpt::image {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// ---------------------------------------------------------------- names

constexpr std::array<std::pair<VmaKind, const char*>, 10> kVmaKinds{{
    {VmaKind::Anonymous, "anonymous"},
    {VmaKind::File, "file"},
    {VmaKind::SharedAnon, "shared_anon"},
    {VmaKind::Vdso, "vdso"},
    {VmaKind::Vvar, "vvar"},
    {VmaKind::VvarVclock, "vvar_vclock"},
    {VmaKind::Vsyscall, "vsyscall"},
    {VmaKind::Sysv, "sysv"},
    {VmaKind::Memfd, "memfd"},
    {VmaKind::DeletedFile, "deleted_file"},
}};

constexpr std::array<std::pair<FileKind, const char*>, 15> kFileKinds{{
    {FileKind::Regular, "regular"},
    {FileKind::Directory, "directory"},
    {FileKind::Deleted, "deleted"},
    {FileKind::Pipe, "pipe"},
    {FileKind::Fifo, "fifo"},
    {FileKind::CharDevice, "char_device"},
    {FileKind::Eventfd, "eventfd"},
    {FileKind::Timerfd, "timerfd"},
    {FileKind::Signalfd, "signalfd"},
    {FileKind::Inotify, "inotify"},
    {FileKind::Epoll, "epoll"},
    {FileKind::Memfd, "memfd"},
    {FileKind::UnixSocket, "unix_socket"},
    {FileKind::InetSocket, "inet_socket"},
    {FileKind::Tty, "tty"},
}};

constexpr std::array<std::pair<LockKind, const char*>, 3> kLockKinds{{
    {LockKind::Posix, "posix"},
    {LockKind::Ofd, "ofd"},
    {LockKind::Flock, "flock"},
}};

// RLIMIT_* numbers are the same on every Linux architecture but x86's order;
// names make the manifest readable and independent of that order.
constexpr std::array<const char*, 16> kRlimitNames{
    "cpu",     "fsize", "data",  "stack",      "core",     "rss",  "nproc",  "nofile",
    "memlock", "as",    "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime"};

// ---------------------------------------------------------------- bytes

constexpr char kHexDigits[] = "0123456789abcdef";

std::string toHex(const void* data, size_t len) {
  const auto* p = static_cast<const uint8_t*>(data);
  std::string s(len * 2, '\0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = kHexDigits[p[i] >> 4];
    s[2 * i + 1] = kHexDigits[p[i] & 0xf];
  }
  return s;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (no overlong forms, no surrogates, at most U+10FFFF): exactly
// what nlohmann accepts when it writes and reads a string.
bool validUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<uint8_t>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
    i += len;
  }
  return true;
}

// A value from the input, made safe for a one-line error message.
std::string shortDump(const json& v) {
  std::string s = v.dump(-1, ' ', /*ensure_ascii=*/true);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string describe(const json& v) {
  if (v.is_number() || v.is_boolean() || v.is_null()) return shortDump(v);
  return v.type_name();
}

// ---------------------------------------------------------------- where we are

// A position in the document, built on the stack as decoding descends; the
// path text is made only when something is wrong.
class Ctx {
 public:
  explicit Ctx(std::string_view prefix = {}) : prefix_(prefix) {}
  Ctx key(std::string_view k) const { return Ctx(this, k, kNoIndex); }
  Ctx at(size_t i) const { return Ctx(this, {}, i); }

  std::string path() const {
    std::string p = parent_ ? parent_->path() : std::string();
    if (index_ != kNoIndex) {
      p += fmt::format("[{}]", index_);
    } else if (!key_.empty()) {
      if (!p.empty()) p += '.';
      p += key_;
    }
    return p;
  }

  [[noreturn]] void fail(const std::string& what) const {
    std::string msg;
    const Ctx* root = this;
    while (root->parent_) root = root->parent_;
    if (!root->prefix_.empty()) msg = std::string(root->prefix_) + ": ";
    const std::string p = path();
    if (!p.empty()) msg += p + ": ";
    throw Error(msg + what);
  }

 private:
  static constexpr size_t kNoIndex = static_cast<size_t>(-1);
  Ctx(const Ctx* parent, std::string_view k, size_t i) : parent_(parent), key_(k), index_(i) {}

  const Ctx* parent_ = nullptr;
  std::string_view prefix_;
  std::string_view key_;
  size_t index_ = kNoIndex;
};

// ---------------------------------------------------------------- encoding

template <class J, std::integral T>
void enc(J& j, T v) {
  j = v;
}
template <class J>
void enc(J& j, const std::string& s) {
  if (validUtf8(s)) {
    j = s;
  } else {
    j = J::object();
    j["hex"] = toHex(s.data(), s.size());
  }
}
template <class J>
void enc(J& j, const std::vector<uint8_t>& bytes) {
  j = toHex(bytes.data(), bytes.size());
}
template <class J>
void enc(J& j, VmaKind k) {
  j = vmaKindName(k);
}
template <class J>
void enc(J& j, FileKind k) {
  j = fileKindName(k);
}
template <class J>
void enc(J& j, LockKind k) {
  j = lockKindName(k);
}
template <class J>
void enc(J& j, const PageRun& v);
template <class J>
void enc(J& j, const PageFrame& v);
template <class J>
void enc(J& j, const ParentImage& v);
template <class J>
void enc(J& j, const MappedFile& v);
template <class J>
void enc(J& j, const Vma& v);
template <class J>
void enc(J& j, const SigAction& v);
template <class J>
void enc(J& j, const ItimerValue& v);
template <class J>
void enc(J& j, const PosixTimer& v);
template <class J>
void enc(J& j, const Rlimit& v);
template <class J>
void enc(J& j, const Thread& v);
template <class J>
void enc(J& j, const MmFields& v);
template <class J>
void enc(J& j, const Credentials& v);
template <class J>
void enc(J& j, const FdEntry& v);
template <class J>
void enc(J& j, const FileDesc& v);
template <class J>
void enc(J& j, const Pipe& v);
template <class J>
void enc(J& j, const SharedObject& v);
template <class J>
void enc(J& j, const Process& v);
template <class J>
void enc(J& j, const Hook& v);
template <class J>
void enc(J& j, const Attachment& v);
template <class J>
void enc(J& j, const SysvSemSet& v);
template <class J>
void enc(J& j, const SysvMessage& v);
template <class J>
void enc(J& j, const SysvMsgQueue& v);
template <class J>
void enc(J& j, const FileLock& v);
template <class J>
void enc(J& j, const Image& v);

template <class J, class T>
void enc(J& j, const std::vector<T>& items) {
  j = J::array();
  for (const T& item : items) {
    J e;
    enc(e, item);
    j.push_back(std::move(e));
  }
}
template <class J, class T, size_t N>
void enc(J& j, const std::array<T, N>& items) {
  j = J::array();
  for (const T& item : items) {
    J e;
    enc(e, item);
    j.push_back(std::move(e));
  }
}
// Layer state (Image::layers): opaque objects, copied as they are.
template <class J>
void enc(J& j, const std::map<std::string, nlohmann::json>& layers) {
  j = J::object();
  for (const auto& [name, state] : layers) j[name] = J::parse(state.dump());
}
template <class J>
void enc(J& j, const std::map<int, Rlimit>& limits) {
  j = J::object();
  for (const auto& [resource, limit] : limits) {
    const bool named = resource >= 0 && static_cast<size_t>(resource) < kRlimitNames.size();
    enc(j[named ? std::string(kRlimitNames[resource]) : std::to_string(resource)], limit);
  }
}

#define PUT(name) enc(j[#name], v.name)

// Compact on purpose: big images hold hundreds of thousands of runs.
template <class J>
void enc(J& j, const PageRun& v) {
  j = J::array({v.addr, v.npages, v.zero ? 1 : 0, v.offset, v.xxh3});
  // Only runs that live in a parent image carry the sixth element.
  if (v.image != 0) j.push_back(v.image);
}

template <class J>
void enc(J& j, const PageFrame& v) {
  j = J::array({v.raw_offset, v.raw_len, v.offset, v.len, v.xxh3});
}

template <class J>
void enc(J& j, const ParentImage& v) {
  j = J::object();
  PUT(path);
  PUT(manifest_xxh3);
}

template <class J>
void enc(J& j, const MappedFile& v) {
  j = J::object();
  PUT(path);
  PUT(dev);
  PUT(ino);
  PUT(size);
  PUT(mtime_ns);
  PUT(xxh3);
  PUT(whole);
  PUT(written);
}

template <class J>
void enc(J& j, const Vma& v) {
  j = J::object();
  PUT(start);
  PUT(end);
  PUT(prot);
  PUT(shared);
  PUT(kind);
  PUT(name);
  PUT(pgoff);
  PUT(dev);
  PUT(ino);
  PUT(vmflags);
  PUT(runs);
  PUT(object);
  if (v.anon_huge) PUT(anon_huge);
}

template <class J>
void enc(J& j, const SharedObject& v) {
  j = J::object();
  PUT(id);
  PUT(kind);
  PUT(dev);
  PUT(ino);
  PUT(size);
  PUT(name);
  PUT(data_file);
  PUT(runs);
  PUT(mode);
  PUT(sysv_key);
  PUT(sysv_id);
  PUT(sysv_uid);
  PUT(sysv_gid);
  PUT(sysv_removed);
  PUT(seals);
}

template <class J>
void enc(J& j, const SigAction& v) {
  j = J::object();
  PUT(signo);
  PUT(handler);
  PUT(flags);
  PUT(restorer);
  PUT(mask);
}

template <class J>
void enc(J& j, const ItimerValue& v) {
  j = J::object();
  PUT(interval_us);
  PUT(value_us);
}

template <class J>
void enc(J& j, const PosixTimer& v) {
  j = J::object();
  PUT(id);
  PUT(clockid);
  PUT(notify);
  PUT(signo);
  PUT(sigval);
  PUT(notify_tid);
  PUT(interval_ns);
  PUT(value_ns);
  PUT(overrun);
}

template <class J>
void enc(J& j, const Rlimit& v) {
  j = J::object();
  PUT(cur);
  PUT(max);
}

template <class J>
void enc(J& j, const Thread& v) {
  j = J::object();
  PUT(tid);
  PUT(comm);
  PUT(gpregs);
  PUT(xstate);
  PUT(sigmask);
  PUT(pending);
  PUT(clear_tid_address);
  PUT(robust_list);
  PUT(robust_list_len);
  PUT(rseq_addr);
  PUT(rseq_len);
  PUT(rseq_sig);
  PUT(rseq_flags);
  PUT(altstack_sp);
  PUT(altstack_size);
  PUT(altstack_flags);
}

template <class J>
void enc(J& j, const MmFields& v) {
  j = J::object();
  PUT(start_code);
  PUT(end_code);
  PUT(start_data);
  PUT(end_data);
  PUT(start_brk);
  PUT(brk);
  PUT(start_stack);
  PUT(arg_start);
  PUT(arg_end);
  PUT(env_start);
  PUT(env_end);
  PUT(auxv);
  PUT(exe);
}

template <class J>
void enc(J& j, const Credentials& v) {
  j = J::object();
  PUT(uid);
  PUT(gid);
  PUT(groups);
  PUT(cap_inh);
  PUT(cap_prm);
  PUT(cap_eff);
  PUT(cap_bnd);
  PUT(cap_amb);
  PUT(no_new_privs);
  PUT(dumpable);
}

template <class J>
void enc(J& j, const FdEntry& v) {
  j = J::object();
  PUT(fd);
  PUT(file);
  PUT(cloexec);
}

template <class J>
void enc(J& j, const FileDesc& v) {
  j = J::object();
  PUT(id);
  PUT(kind);
  PUT(path);
  PUT(flags);
  PUT(pos);
  PUT(dev);
  PUT(ino);
  PUT(mode);
  PUT(rdev);
  PUT(size);
  PUT(mtime_ns);
  PUT(pipe);
  PUT(content_file);
  PUT(content_xxh3);
  j["state"] = J::parse(v.state.dump());
}

template <class J>
void enc(J& j, const Pipe& v) {
  j = J::object();
  PUT(id);
  PUT(ino);
  PUT(capacity);
  PUT(data_file);
  PUT(data_size);
  PUT(data_xxh3);
  PUT(reader_outside);
  PUT(writer_outside);
}

template <class J>
void enc(J& j, const Process& v) {
  j = J::object();
  PUT(pid);
  PUT(ppid);
  PUT(pgid);
  PUT(sid);
  PUT(comm);
  PUT(exit_signal);
  PUT(zombie);
  PUT(exit_status);
  PUT(child_subreaper);
  PUT(stopped);
  PUT(ctty);
  PUT(cwd);
  PUT(root);
  PUT(umask);
  PUT(personality);
  PUT(creds);
  PUT(rlimits);
  PUT(mm);
  PUT(sigactions);
  PUT(pending_shared);
  PUT(itimers);
  PUT(timers);
  PUT(fds);
  PUT(threads);
  PUT(pages_file);
  PUT(pages_codec);
  PUT(pages_frames);
  PUT(page_hashes_file);
  PUT(page_hashes_xxh3);
  PUT(vmas);
}

template <class J>
void enc(J& j, const Hook& v) {
  j = J::object();
  PUT(pid);
  PUT(name);
}

template <class J>
void enc(J& j, const Attachment& v) {
  j = J::object();
  PUT(name);
  PUT(file);
  PUT(size);
  PUT(xxh3);
}

template <class J>
void enc(J& j, const SysvSemSet& v) {
  j = J::object();
  PUT(id);
  PUT(key);
  PUT(mode);
  PUT(uid);
  PUT(gid);
  PUT(values);
  PUT(pids);
}

template <class J>
void enc(J& j, const SysvMessage& v) {
  j = J::object();
  PUT(type);
  PUT(size);
}

template <class J>
void enc(J& j, const SysvMsgQueue& v) {
  j = J::object();
  PUT(id);
  PUT(key);
  PUT(mode);
  PUT(uid);
  PUT(gid);
  PUT(qbytes);
  PUT(lspid);
  PUT(lrpid);
  PUT(messages);
  PUT(data_file);
  PUT(data_size);
  PUT(data_xxh3);
}

template <class J>
void enc(J& j, const FileLock& v) {
  j = J::object();
  PUT(pid);
  PUT(fd);
  PUT(kind);
  PUT(write);
  PUT(start);
  PUT(len);
}

template <class J>
void enc(J& j, const Image& v) {
  j = J::object();
  PUT(format_version);
  PUT(ckpt_version);
  PUT(kernel);
  PUT(hostname);
  PUT(created_unix);
  PUT(root_pid);
  PUT(vdso_layout);
  PUT(vdso_xxh3);
  PUT(mapped_files);
  PUT(compression);
  PUT(parents);
  PUT(files);
  PUT(pipes);
  PUT(objects);
  PUT(sysv_sems);
  PUT(sysv_msgs);
  PUT(locks);
  PUT(hooks);
  PUT(layers);
  PUT(attachments);
  PUT(processes);
}

#undef PUT

// ---------------------------------------------------------------- decoding

void requireObject(const json& j, const Ctx& c) {
  if (!j.is_object()) c.fail("expected object, got " + describe(j));
}

const json& member(const json& obj, const Ctx& c, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end()) c.key(key).fail("missing");
  return *it;
}

template <std::integral T>
requires(!std::same_as<T, bool>) void dec(const json& v, const Ctx& c, T& out) {
  using L = std::numeric_limits<T>;
  if (v.is_number_unsigned()) {
    const auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(L::max())) {
      out = static_cast<T>(u);
      return;
    }
  } else if (v.is_number_integer()) {
    // Signed storage: what nlohmann::json makes of a C++ int, even a positive one.
    const auto s = v.get<int64_t>();
    const bool fits =
        L::is_signed ? s >= static_cast<int64_t>(L::min()) && s <= static_cast<int64_t>(L::max())
                     : s >= 0 && static_cast<uint64_t>(s) <= L::max();
    if (fits) {
      out = static_cast<T>(s);
      return;
    }
  } else {
    c.fail(fmt::format("expected {}integer, got {}", L::is_signed ? "" : "unsigned ", describe(v)));
  }
  c.fail(fmt::format("{} out of range [{}, {}]", shortDump(v), L::min(), L::max()));
}

void dec(const json& v, const Ctx& c, bool& out) {
  if (!v.is_boolean()) c.fail("expected true or false, got " + describe(v));
  out = v.get<bool>();
}

void decHexBytes(const json& v, const Ctx& c, std::string& out) {
  if (!v.is_string()) c.fail("expected hex string, got " + describe(v));
  const auto& s = v.get_ref<const std::string&>();
  if (s.size() % 2) c.fail("expected hex string (odd length)");
  out.resize(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hexValue(s[2 * i]);
    const int lo = hexValue(s[2 * i + 1]);
    if (hi < 0 || lo < 0)
      c.fail(fmt::format("expected hex string (bad digit at {})", 2 * i + (hi < 0 ? 0 : 1)));
    out[i] = static_cast<char>((hi << 4) | lo);
  }
}

void dec(const json& v, const Ctx& c, std::vector<uint8_t>& out) {
  std::string bytes;
  decHexBytes(v, c, bytes);
  out.assign(bytes.begin(), bytes.end());
}

void dec(const json& v, const Ctx& c, std::string& out) {
  if (v.is_string()) {
    out = v.get_ref<const std::string&>();
    return;
  }
  // The form enc() uses for bytes that are not UTF-8.
  if (v.is_object() && v.size() == 1 && v.contains("hex")) {
    decHexBytes(v["hex"], c.key("hex"), out);
    return;
  }
  c.fail("expected string, got " + describe(v));
}

template <class E, size_t N>
E decEnum(const json& v, const Ctx& c, const std::array<std::pair<E, const char*>, N>& names,
          const char* what) {
  if (!v.is_string()) c.fail(fmt::format("expected {} name, got {}", what, describe(v)));
  const auto& s = v.get_ref<const std::string&>();
  for (const auto& [e, name] : names)
    if (s == name) return e;
  std::string known;
  for (const auto& [e, name] : names) known += (known.empty() ? "" : ", ") + std::string(name);
  c.fail(fmt::format("unknown {} {} (known: {})", what, shortDump(v), known));
}

void dec(const json& v, const Ctx& c, VmaKind& out) {
  out = decEnum(v, c, kVmaKinds, "mapping kind");
}
void dec(const json& v, const Ctx& c, FileKind& out) {
  out = decEnum(v, c, kFileKinds, "file kind");
}
void dec(const json& v, const Ctx& c, LockKind& out) {
  out = decEnum(v, c, kLockKinds, "lock kind");
}

void dec(const json& v, const Ctx& c, PageRun& out);
void dec(const json& v, const Ctx& c, PageFrame& out);
void dec(const json& v, const Ctx& c, ParentImage& out);
void dec(const json& v, const Ctx& c, MappedFile& out);
void dec(const json& v, const Ctx& c, Vma& out);
void dec(const json& v, const Ctx& c, SigAction& out);
void dec(const json& v, const Ctx& c, ItimerValue& out);
void dec(const json& v, const Ctx& c, PosixTimer& out);
void dec(const json& v, const Ctx& c, Rlimit& out);
void dec(const json& v, const Ctx& c, Thread& out);
void dec(const json& v, const Ctx& c, MmFields& out);
void dec(const json& v, const Ctx& c, Credentials& out);
void dec(const json& v, const Ctx& c, FdEntry& out);
void dec(const json& v, const Ctx& c, FileDesc& out);
void dec(const json& v, const Ctx& c, Pipe& out);
void dec(const json& v, const Ctx& c, SharedObject& out);
void dec(const json& v, const Ctx& c, Process& out);
void dec(const json& v, const Ctx& c, Hook& out);
void dec(const json& v, const Ctx& c, Attachment& out);
void dec(const json& v, const Ctx& c, SysvSemSet& out);
void dec(const json& v, const Ctx& c, SysvMessage& out);
void dec(const json& v, const Ctx& c, SysvMsgQueue& out);
void dec(const json& v, const Ctx& c, FileLock& out);
void dec(const json& v, const Ctx& c, Image& out);

template <class T>
void dec(const json& v, const Ctx& c, std::vector<T>& out) {
  if (!v.is_array()) c.fail("expected array, got " + describe(v));
  out.clear();
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out.emplace_back();
    dec(v[i], c.at(i), out.back());
  }
}

template <class T, size_t N>
void dec(const json& v, const Ctx& c, std::array<T, N>& out) {
  if (!v.is_array() || v.size() != N)
    c.fail(fmt::format("expected array of {}, got {}", N,
                       v.is_array() ? fmt::format("{} elements", v.size()) : describe(v)));
  for (size_t i = 0; i < N; ++i) dec(v[i], c.at(i), out[i]);
}

void dec(const json& v, const Ctx& c, std::map<std::string, json>& out) {
  requireObject(v, c);
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!it.value().is_object())
      c.key(it.key()).fail("expected object, got " + describe(it.value()));
    out[it.key()] = it.value();
  }
}

void dec(const json& v, const Ctx& c, std::map<int, Rlimit>& out) {
  requireObject(v, c);
  out.clear();
  for (auto it = v.begin(); it != v.end(); ++it) {
    const std::string& key = it.key();
    const Ctx kc = c.key(key);
    int resource = -1;
    for (size_t i = 0; i < kRlimitNames.size(); ++i)
      if (key == kRlimitNames[i]) resource = static_cast<int>(i);
    if (resource < 0) {
      const char* end = key.data() + key.size();
      auto [p, ec] = std::from_chars(key.data(), end, resource);
      if (key.empty() || ec != std::errc() || p != end)
        c.fail(fmt::format("unknown resource {}", shortDump(json(key))));
    }
    if (out.count(resource)) kc.fail("resource given twice");
    dec(it.value(), kc, out[resource]);
  }
}

#define GET(name) dec(member(j, c, #name), c.key(#name), out.name)
// Fields that format version 2 added: absent in version 1 images, which
// then read as plain images without a parent.
#define GET_V2(name)                                                              \
  do {                                                                            \
    if (auto it = j.find(#name); it != j.end()) dec(*it, c.key(#name), out.name); \
  } while (0)

void dec(const json& j, const Ctx& c, PageRun& out) {
  if (!j.is_array() || (j.size() != 5 && j.size() != 6))
    c.fail("expected page run [addr, npages, zero, offset, xxh3(, image)], got " +
           (j.is_array() ? fmt::format("{} elements", j.size()) : describe(j)));
  dec(j[0], c.at(0), out.addr);
  dec(j[1], c.at(1), out.npages);
  const json& z = j[2];
  if (z.is_boolean()) {
    out.zero = z.get<bool>();
  } else if (z.is_number_integer() && (z == 0 || z == 1)) {
    out.zero = z == 1;
  } else {
    c.at(2).fail("expected 0 or 1, got " + describe(z));
  }
  dec(j[3], c.at(3), out.offset);
  dec(j[4], c.at(4), out.xxh3);
  out.image = 0;
  if (j.size() == 6) dec(j[5], c.at(5), out.image);
}

void dec(const json& j, const Ctx& c, PageFrame& out) {
  if (!j.is_array() || j.size() != 5)
    c.fail("expected page frame [raw_offset, raw_len, offset, len, xxh3], got " +
           (j.is_array() ? fmt::format("{} elements", j.size()) : describe(j)));
  dec(j[0], c.at(0), out.raw_offset);
  dec(j[1], c.at(1), out.raw_len);
  dec(j[2], c.at(2), out.offset);
  dec(j[3], c.at(3), out.len);
  dec(j[4], c.at(4), out.xxh3);
}

void dec(const json& j, const Ctx& c, ParentImage& out) {
  requireObject(j, c);
  GET(path);
  GET(manifest_xxh3);
}

void dec(const json& j, const Ctx& c, MappedFile& out) {
  requireObject(j, c);
  GET(path);
  GET(dev);
  GET(ino);
  GET(size);
  GET(mtime_ns);
  GET(xxh3);
  GET(whole);
  GET(written);
}

void dec(const json& j, const Ctx& c, Vma& out) {
  requireObject(j, c);
  GET(start);
  GET(end);
  GET(prot);
  GET(shared);
  GET(kind);
  GET(name);
  GET(pgoff);
  GET(dev);
  GET(ino);
  GET(vmflags);
  GET(runs);
  GET(object);
  GET_V2(anon_huge);
}

void dec(const json& j, const Ctx& c, SharedObject& out) {
  requireObject(j, c);
  GET(id);
  GET(kind);
  GET(dev);
  GET(ino);
  GET(size);
  GET(name);
  GET(data_file);
  GET(runs);
  GET(mode);
  GET(sysv_key);
  GET(sysv_id);
  GET(sysv_uid);
  GET(sysv_gid);
  GET(sysv_removed);
  GET(seals);
}

void dec(const json& j, const Ctx& c, SigAction& out) {
  requireObject(j, c);
  GET(signo);
  GET(handler);
  GET(flags);
  GET(restorer);
  GET(mask);
}

void dec(const json& j, const Ctx& c, ItimerValue& out) {
  requireObject(j, c);
  GET(interval_us);
  GET(value_us);
}

void dec(const json& j, const Ctx& c, PosixTimer& out) {
  requireObject(j, c);
  GET(id);
  GET(clockid);
  GET(notify);
  GET(signo);
  GET(sigval);
  GET(notify_tid);
  GET(interval_ns);
  GET(value_ns);
  GET(overrun);
}

void dec(const json& j, const Ctx& c, Rlimit& out) {
  requireObject(j, c);
  GET(cur);
  GET(max);
}

void dec(const json& j, const Ctx& c, Thread& out) {
  requireObject(j, c);
  GET(tid);
  GET(comm);
  GET(gpregs);
  GET(xstate);
  GET(sigmask);
  GET(pending);
  GET(clear_tid_address);
  GET(robust_list);
  GET(robust_list_len);
  GET(rseq_addr);
  GET(rseq_len);
  GET(rseq_sig);
  GET(rseq_flags);
  GET(altstack_sp);
  GET(altstack_size);
  GET(altstack_flags);
}

void dec(const json& j, const Ctx& c, MmFields& out) {
  requireObject(j, c);
  GET(start_code);
  GET(end_code);
  GET(start_data);
  GET(end_data);
  GET(start_brk);
  GET(brk);
  GET(start_stack);
  GET(arg_start);
  GET(arg_end);
  GET(env_start);
  GET(env_end);
  GET(auxv);
  GET(exe);
}

void dec(const json& j, const Ctx& c, Credentials& out) {
  requireObject(j, c);
  GET(uid);
  GET(gid);
  GET(groups);
  GET(cap_inh);
  GET(cap_prm);
  GET(cap_eff);
  GET(cap_bnd);
  GET(cap_amb);
  GET(no_new_privs);
  GET(dumpable);
}

void dec(const json& j, const Ctx& c, FdEntry& out) {
  requireObject(j, c);
  GET(fd);
  GET(file);
  GET(cloexec);
}

void dec(const json& j, const Ctx& c, FileDesc& out) {
  requireObject(j, c);
  GET(id);
  GET(kind);
  GET(path);
  GET(flags);
  GET(pos);
  GET(dev);
  GET(ino);
  GET(mode);
  GET(rdev);
  GET(size);
  GET(mtime_ns);
  GET(pipe);
  GET(content_file);
  GET(content_xxh3);
  const json& state = member(j, c, "state");
  if (!state.is_null() && !state.is_object()) c.key("state").fail("expected object or null");
  out.state = state;
}

void dec(const json& j, const Ctx& c, Pipe& out) {
  requireObject(j, c);
  GET(id);
  GET(ino);
  GET(capacity);
  GET(data_file);
  GET(data_size);
  GET(data_xxh3);
  GET(reader_outside);
  GET(writer_outside);
}

void dec(const json& j, const Ctx& c, Process& out) {
  requireObject(j, c);
  GET(pid);
  GET(ppid);
  GET(pgid);
  GET(sid);
  GET(comm);
  GET(exit_signal);
  GET(zombie);
  GET(exit_status);
  GET(child_subreaper);
  GET(stopped);
  GET(ctty);
  GET(cwd);
  GET(root);
  GET(umask);
  GET(personality);
  GET(creds);
  GET(rlimits);
  GET(mm);
  GET(sigactions);
  GET(pending_shared);
  GET(itimers);
  GET(timers);
  GET(fds);
  GET(threads);
  GET(pages_file);
  GET_V2(pages_codec);
  GET_V2(pages_frames);
  GET_V2(page_hashes_file);
  GET_V2(page_hashes_xxh3);
  GET(vmas);
}

void dec(const json& j, const Ctx& c, Hook& out) {
  requireObject(j, c);
  GET(pid);
  GET(name);
}

void dec(const json& j, const Ctx& c, Attachment& out) {
  requireObject(j, c);
  GET(name);
  GET(file);
  GET(size);
  GET(xxh3);
}

void dec(const json& j, const Ctx& c, SysvSemSet& out) {
  requireObject(j, c);
  GET(id);
  GET(key);
  GET(mode);
  GET(uid);
  GET(gid);
  GET(values);
  GET(pids);
  if (out.pids.size() != out.values.size()) c.key("pids").fail("expected one pid per value");
}

void dec(const json& j, const Ctx& c, SysvMessage& out) {
  requireObject(j, c);
  GET(type);
  GET(size);
}

void dec(const json& j, const Ctx& c, SysvMsgQueue& out) {
  requireObject(j, c);
  GET(id);
  GET(key);
  GET(mode);
  GET(uid);
  GET(gid);
  GET(qbytes);
  GET(lspid);
  GET(lrpid);
  GET(messages);
  GET(data_file);
  GET(data_size);
  GET(data_xxh3);
}

void dec(const json& j, const Ctx& c, FileLock& out) {
  requireObject(j, c);
  GET(pid);
  GET(fd);
  GET(kind);
  GET(write);
  GET(start);
  GET(len);
}

void dec(const json& j, const Ctx& c, Image& out) {
  requireObject(j, c);
  GET(format_version);
  GET(ckpt_version);
  GET(kernel);
  GET(hostname);
  GET(created_unix);
  GET(root_pid);
  GET(vdso_layout);
  // Added after format 2 was out: older images have neither (restore then
  // checks mapped files by inode alone and the vDSO by its size).
  if (j.contains("vdso_xxh3")) GET(vdso_xxh3);
  if (j.contains("mapped_files")) GET(mapped_files);
  GET_V2(compression);
  GET_V2(parents);
  GET(files);
  GET(pipes);
  GET(objects);
  GET(sysv_sems);
  GET(sysv_msgs);
  GET(locks);
  GET(hooks);
  GET(layers);
  // Added after format 1 was out: images without it have no attachments.
  if (j.contains("attachments")) GET(attachments);
  GET(processes);
}

#undef GET
#undef GET_V2

// The public from_json hooks report paths relative to the value they were given.
template <class T>
void decodeRoot(const json& j, T& out) {
  dec(j, Ctx(), out);
}
template <class T>
void encodePlain(json& j, const T& v) {
  enc(j, v);
}

// ---------------------------------------------------------------- text

bool isScalar(const ordered_json& v) {
  return !v.is_object() && !v.is_array();
}

void indentTo(std::string& out, int n) {
  out.append(static_cast<size_t>(n), ' ');
}

// Like dump(2), but an array of scalars (a page run, auxv, a list of groups)
// stays on one line: the manifest stays small and greppable.
void emit(std::string& out, const ordered_json& v, int indent) {
  if (v.is_object()) {
    if (v.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    size_t i = 0;
    for (auto it = v.begin(); it != v.end(); ++it, ++i) {
      indentTo(out, indent + 2);
      out += ordered_json(it.key()).dump();
      out += ": ";
      emit(out, it.value(), indent + 2);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    indentTo(out, indent);
    out += '}';
  } else if (v.is_array()) {
    if (v.empty()) {
      out += "[]";
      return;
    }
    bool flat = true;
    for (const auto& e : v) flat = flat && isScalar(e);
    if (flat) {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ", ";
        out += v[i].dump();
      }
      out += ']';
      return;
    }
    out += "[\n";
    for (size_t i = 0; i < v.size(); ++i) {
      indentTo(out, indent + 2);
      emit(out, v[i], indent + 2);
      out += i + 1 < v.size() ? ",\n" : "\n";
    }
    indentTo(out, indent);
    out += ']';
  } else {
    out += v.dump();
  }
}

// nlohmann's messages start with "[json.exception.parse_error.101] "; the
// rest is what a user needs, once made one short line.
std::string cleanJsonMessage(const char* what) {
  std::string s = what;
  if (!s.empty() && s[0] == '[') {
    const auto close = s.find("] ");
    if (close != std::string::npos) s.erase(0, close + 2);
  }
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  if (s.size() > 200) s = s.substr(0, 197) + "...";
  return s;
}

}  // namespace

const char* vmaKindName(VmaKind k) {
  for (const auto& [e, name] : kVmaKinds)
    if (e == k) return name;
  return "unknown";
}

const char* lockKindName(LockKind k) {
  for (const auto& [e, name] : kLockKinds)
    if (e == k) return name;
  return "unknown";
}

const char* fileKindName(FileKind k) {
  for (const auto& [e, name] : kFileKinds)
    if (e == k) return name;
  return "unknown";
}

#define CKPT_JSON_HOOKS(T)                        \
  void to_json(nlohmann::json& j, const T& v) {   \
    encodePlain(j, v);                            \
  }                                               \
  void from_json(const nlohmann::json& j, T& v) { \
    decodeRoot(j, v);                             \
  }

CKPT_JSON_HOOKS(PageRun)
CKPT_JSON_HOOKS(Vma)
CKPT_JSON_HOOKS(SigAction)
CKPT_JSON_HOOKS(ItimerValue)
CKPT_JSON_HOOKS(PosixTimer)
CKPT_JSON_HOOKS(Rlimit)
CKPT_JSON_HOOKS(Thread)
CKPT_JSON_HOOKS(MmFields)
CKPT_JSON_HOOKS(Credentials)
CKPT_JSON_HOOKS(FdEntry)
CKPT_JSON_HOOKS(FileDesc)
CKPT_JSON_HOOKS(Pipe)
CKPT_JSON_HOOKS(Process)
CKPT_JSON_HOOKS(Hook)
CKPT_JSON_HOOKS(Image)

#undef CKPT_JSON_HOOKS

void to_json(nlohmann::json& j, VmaKind v) {
  encodePlain(j, v);
}
void from_json(const nlohmann::json& j, VmaKind& v) {
  decodeRoot(j, v);
}
void to_json(nlohmann::json& j, FileKind v) {
  encodePlain(j, v);
}
void from_json(const nlohmann::json& j, FileKind& v) {
  decodeRoot(j, v);
}

std::string writeManifest(const Image& image) {
  try {
    ordered_json j;
    enc(j, image);
    std::string out;
    emit(out, j, 0);
    out += '\n';
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error("manifest.json: cannot write: " + cleanJsonMessage(e.what()));
  }
}

nlohmann::json parseManifestJson(std::string_view text) {
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // Also number overflow (out_of_range.406), not only syntax errors.
    throw Error("manifest.json: " + cleanJsonMessage(e.what()));
  }
}

int manifestFormatVersion(const nlohmann::json& j) {
  const Ctx root("manifest.json");
  requireObject(j, root);
  int version = 0;
  dec(member(j, root, "format_version"), root.key("format_version"), version);
  return version;
}

Image imageFromManifest(const nlohmann::json& j) {
  Image image;
  try {
    dec(j, Ctx("manifest.json"), image);
  } catch (const json::exception& e) {
    // Decoding checks every type before it reads; this is a safety net.
    throw Error("manifest.json: " + cleanJsonMessage(e.what()));
  }
  return image;
}

Image parseManifest(std::string_view text) {
  const json j = parseManifestJson(text);
  const int version = manifestFormatVersion(j);
  if (version < kOldestFormatVersion || version > kFormatVersion)
    throw Error(fmt::format("manifest.json: format version {}, this ckpt reads versions {} to {}",
                            version, kOldestFormatVersion, kFormatVersion));
  return imageFromManifest(j);
}

}  // namespace ckpt::image
