// Parsers of the text (and binary) files of /proc/PID: pure functions over the
// bytes read, so they are tested on captured text. Malformed input throws
// ckpt::Error naming the file kind and the offending line; nothing else escapes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckpt::proc {

// One line of /proc/PID/maps.
struct MapsEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  int32_t prot = 0;     // PROT_READ | PROT_WRITE | PROT_EXEC
  bool shared = false;  // 's' (MAP_SHARED) rather than 'p'
  uint64_t offset = 0;  // file offset in bytes
  uint64_t dev = 0;     // makedev(major, minor)
  uint64_t inode = 0;
  // "" when anonymous; "[heap]", "[anon:name]", a file path, as shown. The kernel
  // shows a '\n' in a file name as "\012" and escapes nothing else, so that is
  // left as it is: "\012" might be the name itself.
  std::string path;
  bool deleted = false;  // the kernel appended " (deleted)"; it is stripped from path
};

std::vector<MapsEntry> parseMaps(std::string_view text);

// /proc/PID/smaps: VMA start address -> its VmFlags tokens ("rd", "wr", "gd", ...).
// A VMA without a VmFlags line has no entry.
std::map<uint64_t, std::vector<std::string>> parseSmapsVmFlags(std::string_view smapsText);
// /proc/PID/smaps: VMA start address -> the value in kB of a "Field:  N kB" line
// ("Rss", "Swap", ...). A VMA without that line has no entry.
std::map<uint64_t, uint64_t> parseSmapsKb(std::string_view smapsText, std::string_view field);
// parseSmapsKb(smapsText, "AnonHugePages").
std::map<uint64_t, uint64_t> parseSmapsAnonHugePages(std::string_view smapsText);

// /proc/PID/stat or /proc/PID/task/TID/stat. Field numbers as in proc(5).
struct ProcStat {
  int32_t pid = 0;           // 1
  std::string comm;          // 2, raw (may hold spaces, parentheses, newlines)
  char state = 0;            // 3: R S D Z T t X I ...
  int32_t ppid = 0;          // 4
  int32_t pgrp = 0;          // 5
  int32_t session = 0;       // 6
  int32_t tty_nr = 0;        // 7
  int32_t tpgid = 0;         // 8
  uint32_t flags = 0;        // 9: PF_*
  int64_t num_threads = 0;   // 20
  uint64_t start_code = 0;   // 26
  uint64_t end_code = 0;     // 27
  uint64_t start_stack = 0;  // 28
  int32_t exit_signal = 0;   // 38: -1 for threads other than the leader
  int32_t processor = -1;    // 39: the CPU it last ran on
  uint64_t start_data = 0;   // 45
  uint64_t end_data = 0;     // 46
  uint64_t start_brk = 0;    // 47
  uint64_t arg_start = 0;    // 48
  uint64_t arg_end = 0;      // 49
  uint64_t env_start = 0;    // 50
  uint64_t env_end = 0;      // 51
  int32_t exit_code = 0;     // 52: wait status, for zombies
};

// Needs all 52 fields (Linux 3.5 and later).
ProcStat parseStat(std::string_view text);

// /proc/PID/status. Lines that every kernel we support prints are required;
// the rest get the value a kernel without them means, or stay empty.
struct ProcStatus {
  std::string name;               // Name, unescaped ("\n" and "\\" as the kernel escapes them)
  std::optional<uint32_t> umask;  // Umask: missing before 4.7 and for zombies
  char state = 0;                 // State: its letter
  int32_t tgid = 0;
  int32_t pid = 0;
  int32_t ppid = 0;
  int32_t tracer_pid = 0;
  std::array<uint32_t, 4> uid{};  // real, effective, saved, fs
  std::array<uint32_t, 4> gid{};
  std::vector<uint32_t> groups;
  std::vector<int32_t> ns_tgid;  // NStgid, outermost namespace first; empty before 4.1
  std::vector<int32_t> ns_pid;   // NSpid
  int32_t threads = 0;
  uint32_t sigq_queued = 0;  // SigQ: queued/limit
  uint32_t sigq_limit = 0;
  uint64_t sig_pnd = 0;  // thread-private pending
  uint64_t shd_pnd = 0;  // process-wide pending
  uint64_t sig_blk = 0;
  uint64_t sig_ign = 0;
  uint64_t sig_cgt = 0;
  uint64_t cap_inh = 0;
  uint64_t cap_prm = 0;
  uint64_t cap_eff = 0;
  uint64_t cap_bnd = 0;
  uint64_t cap_amb = 0;              // 0 when missing (before 4.3: no ambient set)
  std::optional<bool> no_new_privs;  // missing before 4.10
  std::optional<int32_t> seccomp;    // SECCOMP_MODE_*; missing without CONFIG_SECCOMP
  // Private anonymous memory resident and swapped out, in kB: missing for
  // zombies and kernel threads (no mm).
  std::optional<uint64_t> rss_anon_kb;
  std::optional<uint64_t> vm_swap_kb;
};

ProcStatus parseStatus(std::string_view text);

// /proc/PID/fdinfo/FD.
struct FdInfo {
  int64_t pos = 0;
  uint32_t flags = 0;             // open flags as the kernel keeps them, O_CLOEXEC included
  std::optional<int32_t> mnt_id;  // since 3.15
  std::optional<uint64_t> ino;    // since 5.14
  // Every other "key: value" line, value with surrounding blanks removed
  // ("eventfd-count" -> "7", "sigmask" -> "0000000000000801", "it_value" -> "(995, 130)").
  std::map<std::string, std::string> fields;
  // Lines that come once per item (epoll "tfd", "inotify wd", "fanotify ino" /
  // "mnt_id" / "sdev" / "mntns"), and any other key seen more than once:
  // key -> whole raw lines, in order. Split one with parseFdinfoRecord.
  std::map<std::string, std::vector<std::string>> records;
};

FdInfo parseFdinfo(std::string_view text);
// Splits a record line into its "key:value" / "key: value" pairs; bare words
// ("inotify", "fanotify") are dropped:
// "tfd:  7 events: 19 data: 1234 pos:0" -> {tfd:7, events:19, data:1234, pos:0}.
std::map<std::string, std::string> parseFdinfoRecord(std::string_view line);

// One POSIX timer of /proc/PID/timers (kernel fs/proc/base.c show_timer).
struct ProcTimer {
  int32_t id = 0;
  int32_t signo = 0;
  uint64_t sigval = 0;     // sigev_value, as a pointer
  int32_t notify = 0;      // SIGEV_SIGNAL / SIGEV_NONE / SIGEV_THREAD, | SIGEV_THREAD_ID ("tid")
  int32_t notify_pid = 0;  // the pid, or the tid with SIGEV_THREAD_ID
  int32_t clock_id = 0;    // negative for CPU-time clocks
};

std::vector<ProcTimer> parseTimers(std::string_view text);

// Binary /proc/PID/auxv of a 64-bit process: key, value, key, value, ...,
// ending with the AT_NULL pair (included). Bytes after it are ignored.
std::vector<uint64_t> parseAuxv(std::string_view bytes);

// cmdline / environ: NUL-terminated strings. A last string without its NUL
// (a program that rewrote its argv area) is kept; "" gives no strings.
std::vector<std::string> parseNulSeparated(std::string_view bytes);

// /proc/PID/limits: soft and hard value of each RLIMIT_* in the kernel's
// order (cpu, fsize, ... rttime); "unlimited" is RLIM_INFINITY. Readable for
// any process we may trace, unlike prlimit(), which needs CAP_SYS_RESOURCE
// for another user's process.
struct ProcLimit {
  uint64_t soft = 0;
  uint64_t hard = 0;
};
std::vector<ProcLimit> parseLimits(std::string_view text);

// /proc/sysvipc/{shm,sem,msg}: one row per object, keyed by the header's
// column names ("key", "semid", "perms", ...), each value as printed.
using SysvipcRow = std::map<std::string, std::string>;
std::vector<SysvipcRow> parseSysvipc(std::string_view text);
// A numeric column of a row ("perms" is octal, the rest decimal); throws an
// Error naming the column when it is missing or not a number.
int64_t sysvipcField(const SysvipcRow& row, const std::string& column);

// One lock as /proc/locks prints it, and /proc/PID/fdinfo after "lock:":
// "1: POSIX  ADVISORY  WRITE 4242 08:01:1234 0 EOF".
struct LockLine {
  std::string cls;       // POSIX, FLOCK, OFDLCK, LEASE, DELEG, ...
  std::string mode;      // ADVISORY, MANDATORY; ACTIVE, BREAKING for leases
  std::string type;      // READ, WRITE, UNLCK
  bool blocked = false;  // "->": a waiter, not a holder
  int32_t pid = 0;       // -1 for OFD locks
  uint64_t dev = 0;      // makedev(major, minor)
  uint64_t ino = 0;
  int64_t start = 0;
  std::optional<int64_t> end;  // inclusive; nullopt = EOF
};
LockLine parseLockLine(std::string_view line);

}  // namespace ckpt::proc
