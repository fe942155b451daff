// The in-memory form of an image: everything dump collects and restore needs.
// Serialized to manifest.json by Manifest.cpp; page contents live in page files.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckpt::image {

// Version 2 added compressed page files, parent images and page hashes.
// Version 1 images hold none of those and read back as uncompressed images
// without a parent, so this ckpt reads both.
inline constexpr int kFormatVersion = 2;
inline constexpr int kOldestFormatVersion = 1;
inline constexpr uint64_t kPageSize = 4096;

// A run of consecutive pages of one mapping. Data runs are stored in the
// process's page file at `offset` (page-aligned); zero runs are recorded only.
struct PageRun {
  uint64_t addr = 0;
  uint64_t npages = 0;
  bool zero = false;
  uint64_t offset = 0;  // byte offset in the page file (data runs)
  uint64_t xxh3 = 0;    // XXH3-64 of the run's bytes (data runs), uncompressed
  // Where a data run's bytes are: 0 in this image; k > 0 in Image::parents[k-1],
  // in the page file of the process with the same pid (an incremental dump
  // stores only what changed and points at the rest).
  uint32_t image = 0;
};

// One independently compressed piece of a page file: the page bytes
// [raw_offset, raw_offset + raw_len) stored at [offset, offset + len) of the
// file. Runs keep their uncompressed offsets; frames translate them.
struct PageFrame {
  uint64_t raw_offset = 0;
  uint64_t raw_len = 0;
  uint64_t offset = 0;
  uint64_t len = 0;
  uint64_t xxh3 = 0;  // XXH3-64 of the compressed bytes
};

enum class VmaKind {
  Anonymous,    // private anonymous (includes [heap], [stack], thread stacks)
  File,         // backed by a file (private or shared)
  SharedAnon,   // MAP_SHARED|MAP_ANONYMOUS (/dev/zero (deleted) in maps)
  Vdso,         // [vdso]
  Vvar,         // [vvar]
  VvarVclock,   // [vvar_vclock]
  Vsyscall,     // [vsyscall]: fixed by the kernel, never mapped by restore
  Sysv,         // a SysV shared memory segment (/SYSV... (deleted))
  Memfd,        // a memfd (/memfd:name (deleted))
  DeletedFile,  // a file deleted while mapped
};

struct Vma {
  uint64_t start = 0;
  uint64_t end = 0;
  int prot = 0;         // PROT_READ|PROT_WRITE|PROT_EXEC
  bool shared = false;  // MAP_SHARED
  VmaKind kind = VmaKind::Anonymous;
  std::string name;    // the maps path field: "", "[heap]", "[stack]", a file path
  uint64_t pgoff = 0;  // file offset in bytes
  uint64_t dev = 0;    // file identity at dump (st_dev, st_ino)
  uint64_t ino = 0;
  std::vector<std::string> vmflags;  // smaps VmFlags: "gd", "dd", "hg", ...
  std::vector<PageRun> runs;         // saved pages, in address order
  int object = -1;                   // SharedObject::id for the kinds whose content travels
  // Private anonymous memory that had huge pages at dump (smaps
  // AnonHugePages > 0, with or without "hg"): a lazy restore collapses it
  // again. Absent in older images: false.
  bool anon_huge = false;
};

// Memory whose content is not a file on disk and may be shared by several
// mappings and processes: shared anonymous memory, SysV segments, memfds and
// files deleted while mapped. Saved once, mapped again by every user.
struct SharedObject {
  int id = 0;
  VmaKind kind = VmaKind::SharedAnon;  // SharedAnon, Sysv, Memfd or DeletedFile
  uint64_t dev = 0, ino = 0;           // identity at dump
  uint64_t size = 0;                   // bytes
  std::string name;                    // memfd name, or the deleted file's path
  std::string data_file;               // its content in the image
  std::vector<PageRun> runs;           // addr = offset in the object
  uint32_t mode = 0;                   // file mode, or SysV permissions
  int32_t sysv_key = 0;
  int32_t sysv_id = -1;
  uint32_t sysv_uid = 0, sysv_gid = 0;
  bool sysv_removed = false;  // IPC_RMID done, still attached
  int32_t seals = 0;          // memfd F_GET_SEALS
};

// A SysV semaphore set that processes of the tree use (core/ipc/SysvSem.cpp).
struct SysvSemSet {
  int32_t id = -1;
  int32_t key = 0;
  uint32_t mode = 0;  // permissions
  uint32_t uid = 0, gid = 0;
  std::vector<int32_t> values;  // semval of each semaphore
  std::vector<int32_t> pids;    // sempid of each: the last process to change it (0: none)
};

// One message of a SysV queue; its bytes follow the previous message's in
// the queue's data file.
struct SysvMessage {
  int64_t type = 0;
  uint64_t size = 0;
};

// A SysV message queue that processes of the tree use (core/ipc/SysvMsg.cpp).
struct SysvMsgQueue {
  int32_t id = -1;
  int32_t key = 0;
  uint32_t mode = 0;  // permissions
  uint32_t uid = 0, gid = 0;
  uint64_t qbytes = 0;  // msg_qbytes: the queue's byte limit
  int32_t lspid = 0;    // the last sender and receiver (0: none)
  int32_t lrpid = 0;
  std::vector<SysvMessage> messages;  // in queue order
  std::string data_file;              // every message's bytes, in order; empty when none
  uint64_t data_size = 0;
  uint64_t data_xxh3 = 0;
};

enum class LockKind { Posix, Ofd, Flock };

// A file lock held by a process of the tree (core/ipc/FileLocks.cpp),
// re-taken at restore from inside `pid` through its `fd`.
struct FileLock {
  pid_t pid = 0;
  int fd = 0;
  LockKind kind = LockKind::Posix;
  bool write = false;  // F_WRLCK / LOCK_EX, else F_RDLCK / LOCK_SH
  int64_t start = 0;   // POSIX and OFD: the byte range, len 0 = up to the end
  int64_t len = 0;
};

struct SigAction {
  int signo = 0;
  uint64_t handler = 0;  // SIG_DFL = 0, SIG_IGN = 1, else an address
  uint64_t flags = 0;
  uint64_t restorer = 0;
  uint64_t mask = 0;
};

struct ItimerValue {
  int64_t interval_us = 0;
  int64_t value_us = 0;
};

struct PosixTimer {
  int id = 0;
  int clockid = 0;
  int notify = 0;  // SIGEV_SIGNAL / SIGEV_NONE / SIGEV_THREAD_ID
  int signo = 0;
  uint64_t sigval = 0;
  pid_t notify_tid = 0;
  int64_t interval_ns = 0;
  int64_t value_ns = 0;  // remaining time, 0 = disarmed
  int overrun = 0;
};

struct Rlimit {
  uint64_t cur = 0;
  uint64_t max = 0;
};

// One thread. Registers are the raw kernel structs (user_regs_struct and the
// XSAVE area), kept as bytes: they go back through PTRACE_SETREGSET as they are.
struct Thread {
  pid_t tid = 0;
  std::string comm;
  std::vector<uint8_t> gpregs;  // NT_PRSTATUS: struct user_regs_struct
  std::vector<uint8_t> xstate;  // NT_X86_XSTATE
  uint64_t sigmask = 0;
  std::vector<std::vector<uint8_t>> pending;  // siginfo_t (128 bytes) each, in queue order
  uint64_t clear_tid_address = 0;
  uint64_t robust_list = 0;
  uint64_t robust_list_len = 0;
  uint64_t rseq_addr = 0;  // 0 = none registered
  uint32_t rseq_len = 0;
  uint32_t rseq_sig = 0;
  uint32_t rseq_flags = 0;
  uint64_t altstack_sp = 0;
  uint64_t altstack_size = 0;
  int altstack_flags = 0;  // SS_DISABLE when none
};

// The fields restored with PR_SET_MM_MAP, plus the exe link.
struct MmFields {
  uint64_t start_code = 0, end_code = 0, start_data = 0, end_data = 0;
  uint64_t start_brk = 0, brk = 0, start_stack = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  std::vector<uint64_t> auxv;
  std::string exe;
};

struct Credentials {
  std::array<uint32_t, 4> uid{};  // real, effective, saved, fs
  std::array<uint32_t, 4> gid{};
  std::vector<uint32_t> groups;
  uint64_t cap_inh = 0, cap_prm = 0, cap_eff = 0, cap_bnd = 0, cap_amb = 0;
  bool no_new_privs = false;
  int dumpable = 1;
};

// One file descriptor slot of a process, pointing at an open file description.
struct FdEntry {
  int fd = 0;
  int file = 0;  // FileDesc::id
  bool cloexec = false;
};

enum class FileKind {
  Regular,
  Directory,
  Deleted,
  Pipe,
  Fifo,
  CharDevice,
  Eventfd,
  Timerfd,
  Signalfd,
  Inotify,
  Epoll,
  Memfd,
  UnixSocket,
  InetSocket,
  // A terminal (pty master or slave, or a terminal outside the tree): its
  // state belongs to the tty layer, which registers the kind (tty/).
  Tty,
};

// An open file description, shared by every fd (in any process) that refers to it.
struct FileDesc {
  int id = 0;
  FileKind kind = FileKind::Regular;
  std::string path;  // as opened (without " (deleted)")
  int flags = 0;     // open flags (access mode, O_APPEND, O_NONBLOCK, ...), no O_CLOEXEC
  int64_t pos = 0;
  uint64_t dev = 0, ino = 0;
  uint32_t mode = 0;  // st_mode
  uint64_t rdev = 0;  // character devices
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int pipe = -1;             // Pipe::id, for pipes and FIFOs
  std::string content_file;  // deleted files: their content in the image
  uint64_t content_xxh3 = 0;
  // What only one kind knows (an eventfd's counter, epoll's registrations):
  // written and read by that kind's file under core/fds/ alone, so adding a
  // kind never touches the model. An object, or null.
  nlohmann::json state;
};

// A pipe (or FIFO) and the bytes that were in it.
struct Pipe {
  int id = 0;
  uint64_t ino = 0;
  int capacity = 0;       // F_GETPIPE_SZ
  std::string data_file;  // empty when the pipe was empty
  uint64_t data_size = 0;
  uint64_t data_xxh3 = 0;
  bool reader_outside = false;  // no read end inside the tree
  bool writer_outside = false;  // no write end inside the tree
};

struct Process {
  pid_t pid = 0;
  pid_t ppid = 0;
  pid_t pgid = 0;
  pid_t sid = 0;
  int exit_signal = 17;  // SIGCHLD
  bool zombie = false;
  int exit_status = 0;  // wait status of a zombie
  bool child_subreaper = false;
  bool stopped = false;  // in a job-control stop (SIGSTOP, Ctrl-Z) at dump
  uint64_t ctty = 0;     // controlling terminal's device number (stat tty_nr), 0: none
  std::string comm;
  std::vector<Thread> threads;  // threads[0] is the main thread (tid == pid)
  std::vector<Vma> vmas;
  std::string pages_file;               // page file name inside the image
  std::string pages_codec;              // "" (plain) or "zstd": how pages_file is stored
  std::vector<PageFrame> pages_frames;  // with a codec: the frames, in order
  std::string page_hashes_file;         // XXH3-64 of every data page, in run order
  uint64_t page_hashes_xxh3 = 0;        // of that file
  MmFields mm;
  std::vector<SigAction> sigactions;                 // signals 1..64 except SIGKILL/SIGSTOP
  std::vector<std::vector<uint8_t>> pending_shared;  // process-wide pending siginfo
  std::array<ItimerValue, 3> itimers{};              // REAL, VIRTUAL, PROF
  std::vector<PosixTimer> timers;
  std::string cwd;
  std::string root;
  uint32_t umask = 022;
  std::map<int, Rlimit> rlimits;  // RLIMIT_* -> value
  uint32_t personality = 0;
  Credentials creds;
  std::vector<FdEntry> fds;
};

// A process that takes part in its checkpoint (core/hooks/PROTOCOL.md):
// restore tells each one that it runs again.
struct Hook {
  pid_t pid = 0;
  std::string name;  // the abstract socket name, "ckpt-hook:..." (no leading NUL)
};

// A file a session layer stored in the image (a thumbnail of the screen),
// checked like every other file of the image.
struct Attachment {
  std::string name;  // what it is, for the layer and for `ckpt inspect`: "thumbnail"
  std::string file;  // its file inside the image
  uint64_t size = 0;
  uint64_t xxh3 = 0;
};

// A file that processes of the tree map, as it was at dump. Restore reads
// every page the image did not store from it again, so it must not have
// changed (core/image/FileFingerprint.hpp).
struct MappedFile {
  std::string path;
  uint64_t dev = 0, ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t xxh3 = 0;     // of the whole file, or of its first and last MiB (`whole` false)
  bool whole = false;    // xxh3 covers every byte
  bool written = false;  // mapped shared and writable: the tree's own data, expected to change
};

// An image that an incremental image takes pages from.
struct ParentImage {
  std::string path;            // absolute, as it was at dump
  uint64_t manifest_xxh3 = 0;  // its manifest's checksum: restore refuses any other image there
};

struct Image {
  int format_version = kFormatVersion;
  std::string ckpt_version;
  std::string kernel;  // uname -r at dump
  std::string hostname;
  int64_t created_unix = 0;
  pid_t root_pid = 0;
  std::vector<uint64_t> vdso_layout;     // sizes of [vvar], [vvar_vclock], [vdso]
  uint64_t vdso_xxh3 = 0;                // of [vdso]'s code; 0 in images from before it was kept
  std::vector<MappedFile> mapped_files;  // empty in images from before they were kept
  std::string compression;               // "zstd:3", or "" when pages are stored plain
  // The parent (first), its parent, and so on: every image whose pages runs
  // may point into (PageRun::image).
  std::vector<ParentImage> parents;
  std::vector<Process> processes;  // parents before children
  std::vector<FileDesc> files;
  std::vector<Pipe> pipes;
  std::vector<SharedObject> objects;
  std::vector<SysvSemSet> sysv_sems;
  std::vector<SysvMsgQueue> sysv_msgs;
  std::vector<FileLock> locks;
  std::vector<Hook> hooks;
  // What a session layer (tty/, x11proxy/, vnc/) saved about the tree, by
  // layer name; written and read by that layer alone. Objects.
  std::map<std::string, nlohmann::json> layers;
  std::vector<Attachment> attachments;
};

}  // namespace ckpt::image
