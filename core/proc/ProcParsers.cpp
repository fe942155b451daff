// Parsers of /proc/PID text. Each one checks what it reads and reports the
// first line it cannot make sense of, so a kernel format change shows up as a
// clear error rather than as a wrong value in an image.
#include "core/proc/ProcParsers.hpp"

#include <elf.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <charconv>
#include <csignal>
#include <cstring>
#include <set>
#include <system_error>

#include <fmt/format.h>

#include "core/util/Error.hpp"

namespace ckpt::proc {
namespace {

// The offending text as it goes into an error message: cut short, and with
// control bytes made visible so the message stays on one line.
std::string quote(std::string_view s) {
  constexpr size_t kMax = 160;
  std::string out = "'";
  for (size_t i = 0; i < s.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > kMax) out += "...";
  out += "'";
  return out;
}

[[noreturn]] void badLine(std::string_view kind, size_t lineNo, std::string_view line) {
  throw Error(std::string(kind) + ": bad line " + std::to_string(lineNo) + ": " + quote(line));
}

// Calls f(lineNo, line) for every non-empty line, numbered from 1.
template <typename F>
void forEachLine(std::string_view text, F&& f) {
  size_t lineNo = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++lineNo;
    if (!line.empty()) f(lineNo, line);
  }
}

bool isBlank(char c) {
  return c == ' ' || c == '\t' || c == '\n';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> splitBlanks(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isBlank(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !isBlank(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

// The whole of s as a number in base, or nothing: no sign for unsigned types,
// no blanks, no "0x", nothing left over.
template <typename T>
std::optional<T> toNum(std::string_view s, int base = 10) {
  T v{};
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "key: value" split at the first colon; key and value trimmed.
struct KeyValue {
  std::string_view key;
  std::string_view value;
};

std::optional<KeyValue> splitKeyValue(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  return KeyValue{trim(line.substr(0, colon)), trim(line.substr(colon + 1))};
}

// ---------------------------------------------------------------- maps

constexpr std::string_view kDeleted = " (deleted)";

// Format (fs/proc/task_mmu.c show_vma_header_prefix):
// "start-end perms offset major:minor inode" then, when named, blanks and the name.
std::optional<MapsEntry> parseMapsLine(std::string_view line) {
  size_t pos = 0;
  auto next = [&]() {
    size_t sp = line.find(' ', pos);
    std::string_view tok = line.substr(pos, sp == std::string_view::npos ? sp : sp - pos);
    pos = sp == std::string_view::npos ? line.size() : sp + 1;
    return tok;
  };
  MapsEntry e;
  std::string_view range = next(), perms = next(), offset = next(), dev = next(), inode = next();

  size_t dash = range.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto start = toNum<uint64_t>(range.substr(0, dash), 16);
  auto end = toNum<uint64_t>(range.substr(dash + 1), 16);
  if (!start || !end || *start >= *end) return std::nullopt;
  e.start = *start;
  e.end = *end;

  if (perms.size() != 4) return std::nullopt;
  auto flag = [&](size_t i, char set, int bit) {
    if (perms[i] == set) {
      e.prot |= bit;
      return true;
    }
    return perms[i] == '-';
  };
  if (!flag(0, 'r', PROT_READ) || !flag(1, 'w', PROT_WRITE) || !flag(2, 'x', PROT_EXEC)) {
    return std::nullopt;
  }
  if (perms[3] != 's' && perms[3] != 'p') return std::nullopt;
  e.shared = perms[3] == 's';

  auto off = toNum<uint64_t>(offset, 16);
  if (!off) return std::nullopt;
  e.offset = *off;

  size_t colon = dev.find(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto major = toNum<uint32_t>(dev.substr(0, colon), 16);
  auto minor = toNum<uint32_t>(dev.substr(colon + 1), 16);
  if (!major || !minor) return std::nullopt;
  e.dev = makedev(*major, *minor);

  auto ino = toNum<uint64_t>(inode, 10);
  if (!ino) return std::nullopt;
  e.inode = *ino;

  // The name is padded to a column with spaces. A name never starts with a
  // space (d_path begins with '/', special names with '['), so all of them go.
  std::string_view name = line.substr(pos);
  while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
  // A trailing " (deleted)" is the kernel's; a file really named so cannot be told
  // apart here (map_files can).
  if (name.size() > kDeleted.size() && name.ends_with(kDeleted)) {
    name.remove_suffix(kDeleted.size());
    e.deleted = true;
  }
  e.path = std::string(name);
  return e;
}

// ---------------------------------------------------------------- smaps

// Calls f(start, key, value) for every "Key: value" line of every VMA.
template <typename F>
void forEachSmapsField(std::string_view text, F&& f) {
  std::optional<uint64_t> start;
  forEachLine(text, [&](size_t lineNo, std::string_view line) {
    // A field's first word is "Key:"; a VMA header's is "start-end".
    std::string_view first = line.substr(0, line.find_first_of(" \t"));
    if (first.size() > 1 && first.back() == ':') {
      if (!start) badLine("smaps", lineNo, line);
      f(*start, first.substr(0, first.size() - 1), trim(line.substr(first.size())), lineNo, line);
      return;
    }
    auto e = parseMapsLine(line);
    if (!e) badLine("smaps", lineNo, line);
    start = e->start;
  });
}

// ---------------------------------------------------------------- status

// Undoes the escaping of Name: (fs/proc/array.c: only '\n' and '\\').
std::string unescapeName(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// ---------------------------------------------------------------- fdinfo

bool isFdinfoRecordKey(std::string_view key) {
  static constexpr std::string_view kKeys[] = {
      "tfd", "inotify wd", "fanotify ino", "fanotify sdev", "fanotify mnt_id", "fanotify mntns"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

}  // namespace

std::vector<MapsEntry> parseMaps(std::string_view text) {
  std::vector<MapsEntry> out;
  forEachLine(text, [&](size_t lineNo, std::string_view line) {
    auto e = parseMapsLine(line);
    if (!e) badLine("maps", lineNo, line);
    out.push_back(std::move(*e));
  });
  return out;
}

std::map<uint64_t, std::vector<std::string>> parseSmapsVmFlags(std::string_view smapsText) {
  std::map<uint64_t, std::vector<std::string>> out;
  forEachSmapsField(smapsText, [&](uint64_t start, std::string_view key, std::string_view value,
                                   size_t, std::string_view) {
    if (key != "VmFlags") return;
    auto& flags = out[start];
    flags.clear();
    for (auto tok : splitBlanks(value)) flags.emplace_back(tok);
  });
  return out;
}

std::map<uint64_t, uint64_t> parseSmapsKb(std::string_view smapsText, std::string_view field) {
  std::map<uint64_t, uint64_t> out;
  forEachSmapsField(smapsText, [&](uint64_t start, std::string_view key, std::string_view value,
                                   size_t lineNo, std::string_view line) {
    if (key != field) return;
    auto toks = splitBlanks(value);
    std::optional<uint64_t> kb;
    if (toks.size() == 2 && toks[1] == "kB") kb = toNum<uint64_t>(toks[0]);
    if (!kb) badLine("smaps", lineNo, line);
    out[start] = *kb;
  });
  return out;
}

std::map<uint64_t, uint64_t> parseSmapsAnonHugePages(std::string_view smapsText) {
  return parseSmapsKb(smapsText, "AnonHugePages");
}

ProcStat parseStat(std::string_view text) {
  // "pid (comm) state ...": comm may hold anything, even ") (", so it ends at
  // the last ')'.
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    throw Error("stat: bad text: " + quote(text));
  }
  ProcStat st;
  auto pid = toNum<int32_t>(trim(text.substr(0, open)));
  if (!pid) throw Error("stat: bad pid in " + quote(text));
  st.pid = *pid;
  st.comm = std::string(text.substr(open + 1, close - open - 1));

  // The rest starts at field 3.
  auto toks = splitBlanks(text.substr(close + 1));
  constexpr size_t kLastField = 52;
  if (toks.size() < kLastField - 2) {
    throw Error("stat: " + std::to_string(toks.size() + 2) + " fields, need " +
                std::to_string(kLastField) + ": " + quote(text));
  }
  auto field = [&]<typename T>(size_t n, T& out) {
    auto v = toNum<T>(toks[n - 3]);
    if (!v) {
      throw Error("stat: bad field " + std::to_string(n) + ": " + quote(toks[n - 3]) + " in " +
                  quote(text));
    }
    out = *v;
  };
  if (toks[0].size() != 1) throw Error("stat: bad field 3: " + quote(toks[0]));
  st.state = toks[0][0];
  field(4, st.ppid);
  field(5, st.pgrp);
  field(6, st.session);
  field(7, st.tty_nr);
  field(8, st.tpgid);
  field(9, st.flags);
  field(20, st.num_threads);
  field(26, st.start_code);
  field(27, st.end_code);
  field(28, st.start_stack);
  field(38, st.exit_signal);
  field(39, st.processor);
  field(45, st.start_data);
  field(46, st.end_data);
  field(47, st.start_brk);
  field(48, st.arg_start);
  field(49, st.arg_end);
  field(50, st.env_start);
  field(51, st.env_end);
  field(52, st.exit_code);
  return st;
}

ProcStatus parseStatus(std::string_view text) {
  ProcStatus st;
  std::set<std::string_view> seen;
  forEachLine(text, [&](size_t lineNo, std::string_view line) {
    auto kv = splitKeyValue(line);
    if (!kv) badLine("status", lineNo, line);
    auto [key, value] = *kv;
    auto bad = [&]() { badLine("status", lineNo, line); };
    auto num = [&]<typename T>(T& out, int base = 10) {
      auto v = toNum<T>(value, base);
      if (!v) bad();
      out = *v;
    };
    auto list = [&]<typename T>(std::vector<T>& out) {
      out.clear();
      for (auto tok : splitBlanks(value)) {
        auto v = toNum<T>(tok);
        if (!v) bad();
        out.push_back(*v);
      }
    };
    auto ids = [&](std::array<uint32_t, 4>& out) {
      std::vector<uint32_t> v;
      list(v);
      if (v.size() != out.size()) bad();
      std::copy(v.begin(), v.end(), out.begin());
    };
    seen.insert(key);
    if (key == "Name") {
      // Not trimmed: a comm may begin or end with blanks. The kernel writes one tab.
      std::string_view raw = line.substr(line.find(':') + 1);
      if (raw.starts_with('\t')) raw.remove_prefix(1);
      st.name = unescapeName(raw);
    } else if (key == "Umask") {
      uint32_t m = 0;
      num(m, 8);
      st.umask = m;
    } else if (key == "State") {
      if (value.empty()) bad();
      st.state = value[0];
    } else if (key == "Tgid") {
      num(st.tgid);
    } else if (key == "Pid") {
      num(st.pid);
    } else if (key == "PPid") {
      num(st.ppid);
    } else if (key == "TracerPid") {
      num(st.tracer_pid);
    } else if (key == "Uid") {
      ids(st.uid);
    } else if (key == "Gid") {
      ids(st.gid);
    } else if (key == "Groups") {
      list(st.groups);
    } else if (key == "NStgid") {
      list(st.ns_tgid);
    } else if (key == "NSpid") {
      list(st.ns_pid);
    } else if (key == "Threads") {
      num(st.threads);
    } else if (key == "SigQ") {
      size_t slash = value.find('/');
      if (slash == std::string_view::npos) bad();
      auto q = toNum<uint32_t>(value.substr(0, slash));
      auto l = toNum<uint32_t>(value.substr(slash + 1));
      if (!q || !l) bad();
      st.sigq_queued = *q;
      st.sigq_limit = *l;
    } else if (key == "SigPnd") {
      num(st.sig_pnd, 16);
    } else if (key == "ShdPnd") {
      num(st.shd_pnd, 16);
    } else if (key == "SigBlk") {
      num(st.sig_blk, 16);
    } else if (key == "SigIgn") {
      num(st.sig_ign, 16);
    } else if (key == "SigCgt") {
      num(st.sig_cgt, 16);
    } else if (key == "CapInh") {
      num(st.cap_inh, 16);
    } else if (key == "CapPrm") {
      num(st.cap_prm, 16);
    } else if (key == "CapEff") {
      num(st.cap_eff, 16);
    } else if (key == "CapBnd") {
      num(st.cap_bnd, 16);
    } else if (key == "CapAmb") {
      num(st.cap_amb, 16);
    } else if (key == "NoNewPrivs") {
      uint32_t v = 0;
      num(v);
      if (v > 1) bad();
      st.no_new_privs = v == 1;
    } else if (key == "Seccomp") {
      int32_t v = 0;
      num(v);
      st.seccomp = v;
    } else if (key == "RssAnon" || key == "VmSwap") {
      uint64_t kb = 0;
      if (!value.ends_with(" kB")) bad();
      value.remove_suffix(3);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      num(kb);
      (key == "RssAnon" ? st.rss_anon_kb : st.vm_swap_kb) = kb;
    }
  });
  // Printed for every task, zombies and kernel threads included, by every
  // kernel we run on: a missing one means the text was cut or is not status.
  static constexpr std::string_view kRequired[] = {
      "Name",   "State",  "Tgid",   "Pid",    "PPid",   "TracerPid", "Uid",    "Gid",   "Threads",
      "SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt", "CapInh",    "CapPrm", "CapEff"};
  for (auto key : kRequired) {
    if (!seen.contains(key)) throw Error("status: missing '" + std::string(key) + ":' line");
  }
  return st;
}

FdInfo parseFdinfo(std::string_view text) {
  FdInfo fi;
  bool havePos = false, haveFlags = false;
  std::map<std::string, std::string, std::less<>> firstLine;  // of each key in fields
  forEachLine(text, [&](size_t lineNo, std::string_view line) {
    auto kv = splitKeyValue(line);
    if (!kv) {
      // Not ours to judge (io_uring prints such lines); keep it whole.
      fi.records[""].emplace_back(line);
      return;
    }
    auto [key, value] = *kv;
    auto num = [&]<typename T>(T& out, int base = 10) {
      auto v = toNum<T>(value, base);
      if (!v) badLine("fdinfo", lineNo, line);
      out = *v;
    };
    if (key == "pos") {
      num(fi.pos);
      havePos = true;
    } else if (key == "flags") {
      num(fi.flags, 8);  // printed as "0%o"
      haveFlags = true;
    } else if (key == "mnt_id") {
      num(fi.mnt_id.emplace());
    } else if (key == "ino") {
      num(fi.ino.emplace());
    } else {
      std::string k(key);
      if (isFdinfoRecordKey(key) || fi.records.contains(k)) {
        fi.records[k].emplace_back(line);
      } else if (auto it = firstLine.find(k); it != firstLine.end()) {
        // Seen before: it repeats, so neither value alone is the value.
        fi.records[k] = {it->second, std::string(line)};
        fi.fields.erase(k);
        firstLine.erase(it);
      } else {
        fi.fields[k] = std::string(value);
        firstLine[k] = std::string(line);
      }
    }
  });
  if (!havePos) throw Error("fdinfo: missing 'pos:' line");
  if (!haveFlags) throw Error("fdinfo: missing 'flags:' line");
  return fi;
}

std::map<std::string, std::string> parseFdinfoRecord(std::string_view line) {
  std::map<std::string, std::string> out;
  auto toks = splitBlanks(line);
  for (size_t i = 0; i < toks.size(); ++i) {
    size_t colon = toks[i].find(':');
    if (colon == std::string_view::npos) continue;  // a bare word: "inotify"
    std::string key(toks[i].substr(0, colon));
    std::string_view value = toks[i].substr(colon + 1);
    // "events:       19": the value is the next word.
    if (value.empty() && i + 1 < toks.size() && toks[i + 1].find(':') == std::string_view::npos) {
      value = toks[++i];
    }
    out[key] = std::string(value);
  }
  return out;
}

std::vector<ProcTimer> parseTimers(std::string_view text) {
  // show_timer: "ID: %d", "signal: %d/%px", "notify: %s/%s.%d", "ClockID: %d".
  std::vector<ProcTimer> out;
  enum : unsigned { kSignal = 1, kNotify = 2, kClock = 4, kAll = 7 };
  unsigned have = kAll;
  auto finish = [&]() {
    if (have == kAll) return;
    const char* missing = !(have & kSignal) ? "signal" : !(have & kNotify) ? "notify" : "ClockID";
    throw Error("timers: timer ID " + std::to_string(out.back().id) + " has no '" + missing +
                ":' line");
  };
  forEachLine(text, [&](size_t lineNo, std::string_view line) {
    auto kv = splitKeyValue(line);
    if (!kv) badLine("timers", lineNo, line);
    auto [key, value] = *kv;
    auto bad = [&]() { badLine("timers", lineNo, line); };
    if (key == "ID") {
      auto id = toNum<int32_t>(value);
      if (!id) bad();
      finish();
      out.push_back(ProcTimer{});
      out.back().id = *id;
      have = 0;
      return;
    }
    if (out.empty()) bad();
    ProcTimer& t = out.back();
    if (key == "signal") {
      size_t slash = value.find('/');
      if (slash == std::string_view::npos) bad();
      auto signo = toNum<int32_t>(value.substr(0, slash));
      auto sigval = toNum<uint64_t>(value.substr(slash + 1), 16);
      if (!signo || !sigval) bad();
      t.signo = *signo;
      t.sigval = *sigval;
      have |= kSignal;
    } else if (key == "notify") {
      size_t slash = value.find('/');
      size_t dot = value.find('.', slash == std::string_view::npos ? 0 : slash);
      if (slash == std::string_view::npos || dot == std::string_view::npos) bad();
      std::string_view how = value.substr(0, slash);
      std::string_view target = value.substr(slash + 1, dot - slash - 1);
      auto pid = toNum<int32_t>(value.substr(dot + 1));
      if (!pid) bad();
      if (how == "signal") {
        t.notify = SIGEV_SIGNAL;
      } else if (how == "none") {
        t.notify = SIGEV_NONE;
      } else if (how == "thread") {
        t.notify = SIGEV_THREAD;
      } else {
        bad();
      }
      if (target == "tid") {
        t.notify |= SIGEV_THREAD_ID;
      } else if (target != "pid") {
        bad();
      }
      t.notify_pid = *pid;
      have |= kNotify;
    } else if (key == "ClockID") {
      auto clock = toNum<int32_t>(value);
      if (!clock) bad();
      t.clock_id = *clock;
      have |= kClock;
    }
    // Other keys: a newer kernel's additions, not needed here.
  });
  finish();
  return out;
}

std::vector<uint64_t> parseAuxv(std::string_view bytes) {
  std::vector<uint64_t> out;
  constexpr size_t kPair = 2 * sizeof(uint64_t);
  for (size_t off = 0; off + kPair <= bytes.size(); off += kPair) {
    uint64_t pair[2];
    std::memcpy(pair, bytes.data() + off, kPair);
    out.push_back(pair[0]);
    out.push_back(pair[1]);
    if (pair[0] == AT_NULL) return out;
  }
  throw Error("auxv: no AT_NULL entry in " + std::to_string(bytes.size()) + " bytes");
}

std::vector<std::string> parseNulSeparated(std::string_view bytes) {
  std::vector<std::string> out;
  while (!bytes.empty()) {
    size_t nul = bytes.find('\0');
    out.emplace_back(bytes.substr(0, nul));
    bytes = nul == std::string_view::npos ? std::string_view() : bytes.substr(nul + 1);
  }
  return out;
}

std::vector<ProcLimit> parseLimits(std::string_view text) {
  // The kernel prints fixed-width columns: "%-25s %-20s %-20s %-10s".
  static constexpr size_t kSoftAt = 26, kHardAt = 47, kWidth = 20;
  auto value = [](std::string_view line, size_t at, size_t n) -> uint64_t {
    std::string_view v = line.substr(at, std::min(kWidth, line.size() - at));
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v == "unlimited") return ~0ull;
    uint64_t out = 0;
    auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || ptr != v.data() + v.size() || v.empty())
      throw Error(fmt::format("limits: bad value in line {}: '{}'", n, std::string(line)));
    return out;
  };
  std::vector<ProcLimit> out;
  size_t n = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (++n == 1) continue;  // the header
    if (line.empty()) continue;
    if (line.size() < kHardAt + 1)
      throw Error(fmt::format("limits: bad line {}: '{}'", n, std::string(line)));
    out.push_back({value(line, kSoftAt, n), value(line, kHardAt, n)});
  }
  if (out.empty()) throw Error("limits: no limits");
  return out;
}

namespace {

std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

template <class T>
bool number(std::string_view s, T& out, int base = 10) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

std::vector<SysvipcRow> parseSysvipc(std::string_view text) {
  std::vector<SysvipcRow> out;
  std::vector<std::string_view> header;
  size_t pos = 0, n = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    ++n;
    auto w = words(line);
    if (w.empty()) continue;
    if (header.empty()) {
      header = w;
      continue;
    }
    if (w.size() != header.size())
      throw Error(fmt::format("sysvipc: line {} has {} columns, the header {}: {}", n, w.size(),
                              header.size(), quote(line)));
    SysvipcRow row;
    for (size_t i = 0; i < w.size(); ++i) row[std::string(header[i])] = std::string(w[i]);
    out.push_back(std::move(row));
  }
  if (header.empty()) throw Error("sysvipc: no header line");
  return out;
}

int64_t sysvipcField(const SysvipcRow& row, const std::string& column) {
  auto it = row.find(column);
  if (it == row.end()) throw Error(fmt::format("sysvipc: no column '{}'", column));
  int64_t v = 0;
  if (!number(std::string_view(it->second), v, column == "perms" ? 8 : 10))
    throw Error(fmt::format("sysvipc: column '{}' is not a number: {}", column, quote(it->second)));
  return v;
}

LockLine parseLockLine(std::string_view line) {
  auto bad = [&](const char* what) {
    return Error(fmt::format("locks: {} in {}", what, quote(line)));
  };
  auto w = words(line);
  size_t i = 0;
  if (i < w.size() && w[i].size() > 1 && w[i].back() == ':') ++i;  // the lock's number
  LockLine out;
  if (i < w.size() && w[i] == "->") {
    out.blocked = true;
    ++i;
  }
  if (w.size() - i != 7) throw bad("expected 7 fields");
  out.cls = std::string(w[i]);
  out.mode = std::string(w[i + 1]);
  out.type = std::string(w[i + 2]);
  if (!number(w[i + 3], out.pid)) throw bad("bad pid");
  std::string_view id = w[i + 4];
  size_t c1 = id.find(':'), c2 = id.find(':', c1 == id.npos ? id.npos : c1 + 1);
  unsigned major = 0, minor = 0;
  if (c1 == id.npos || c2 == id.npos || !number(id.substr(0, c1), major, 16) ||
      !number(id.substr(c1 + 1, c2 - c1 - 1), minor, 16) || !number(id.substr(c2 + 1), out.ino))
    throw bad("bad device:inode");
  out.dev = makedev(major, minor);
  if (!number(w[i + 5], out.start)) throw bad("bad start");
  if (w[i + 6] != "EOF") {
    int64_t end = 0;
    if (!number(w[i + 6], end)) throw bad("bad end");
    out.end = end;
  }
  return out;
}

}  // namespace ckpt::proc
