// Dump and restore speed next to this machine's own limits: for each size, a
// child touches that much anonymous memory; `ckpt dump --json` saves it
// leaving it running (freeze time: the tree runs again once the pages it
// wrote since pre-copy are copied; and the child's own view of it, the
// longest gap between the ticks of its clock thread), then `ckpt dump
// --kill --json` saves it again (frozen until killed) and `ckpt restore
// --detach` brings it back, then `ckpt restore --lazy --detach --json` once
// more (running again: its running_ms; lazy total: until it returned, every
// page in). Beside them, measured in the same run: memcpy, process_vm_readv
// and fresh-memory fill bandwidth, and file-write bandwidth in the directory
// the images go to.
//
//   bench_dump_restore [--dir DIR] [--runs N] [--plain] [--dump-arg ARG]... [SIZE_MIB...]
//   (default: 64 1024 2048; --plain: no zstd rows; --dump-arg: passed to every dump,
//   e.g. --dump-arg --no-pre-copy)
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace fs = std::filesystem;
using ckpt::Error;
using ckpt::throwErrno;
using ckpt::UniqueFd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMiB = 1024 * 1024;

double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Anonymous memory, unmapped on every path.
class Buffer {
 public:
  explicit Buffer(size_t len) : len_(len) {
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throwErrno(fmt::format("mmap {} MiB", len / kMiB));
    data_ = static_cast<uint64_t*>(p);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { munmap(data_, len_); }
  char* bytes() const { return reinterpret_cast<char*>(data_); }
  size_t len() const { return len_; }
  // Non-zero, incompressible content: every page is stored, none is a zero page.
  void fill(uint64_t seed) {
    uint64_t x = seed | 1;
    for (size_t i = 0; i < len_ / sizeof(uint64_t); ++i) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      data_[i] = x;
    }
  }

 private:
  uint64_t* data_ = nullptr;
  size_t len_ = 0;
};

// The largest gap between two ticks of a child's clock thread: how long the
// program itself stood still, whatever ckpt says. Lives in a small shared
// file mapping that the benchmark reads and resets.
struct Ticks {
  std::atomic<uint64_t> maxGapNs;
};
constexpr size_t kTicksBytes = 4096;

uint64_t nowNs() {
  timespec t{};
  clock_gettime(CLOCK_MONOTONIC, &t);
  return uint64_t(t.tv_sec) * 1'000'000'000ull + uint64_t(t.tv_nsec);
}

[[noreturn]] void tick(Ticks* ticks) {
  for (uint64_t last = nowNs();;) {
    timespec pause{0, 200'000};
    nanosleep(&pause, nullptr);
    uint64_t now = nowNs(), gap = now - last;
    last = now;
    uint64_t seen = ticks->maxGapNs.load();
    while (gap > seen && !ticks->maxGapNs.compare_exchange_weak(seen, gap)) {
    }
  }
}

Ticks* mapTicks(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throwErrno("opening " + path);
  void* p = mmap(nullptr, kTicksBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) throwErrno("mapping " + path);
  return static_cast<Ticks*>(p);
}

// The child that is dumped: touches `mib` MiB, closes every other fd, says it
// is ready through the pipe and closes that too, and waits, while a second
// thread ticks (Ticks). Runs in a fresh exec of this program.
[[noreturn]] void childMain(size_t mib, int readyFd, const std::string& ticksPath) {
  setsid();
  int null = open("/dev/null", O_RDWR);
  for (int fd = 0; fd < 3; ++fd) dup2(null, fd);
  if (null > 2) close(null);
  if (readyFd > 3) close_range(3, readyFd - 1, 0);
  close_range(readyFd + 1, ~0u, 0);
  Buffer mem(mib * kMiB);
  mem.fill(0x9e3779b97f4a7c15ull ^ mib);
  Ticks* ticks = mapTicks(ticksPath);
  // SIGUSR2: rewrite 1% of the pages (every 100th), then tell the parent
  // with SIGUSR2: what an incremental dump then has to store.
  sigset_t usr2;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  sigprocmask(SIG_BLOCK, &usr2, nullptr);
  std::thread(tick, ticks).detach();  // after the mask: SIGUSR2 is for sigwait
  if (write(readyFd, "r", 1) != 1) _exit(1);
  close(readyFd);
  for (uint64_t round = 1;; ++round) {
    int sig = 0;
    if (sigwait(&usr2, &sig) != 0) continue;
    for (size_t page = 0; page < mem.len() / 4096; page += 100) {
      auto* w = reinterpret_cast<uint64_t*>(mem.bytes() + page * 4096);
      for (size_t i = 0; i < 512; ++i) w[i] = w[i] * 6364136223846793005ull + round;
    }
    kill(getppid(), SIGUSR2);
  }
}

// A process started by the benchmark: killed and reaped on every path.
class Child {
 public:
  Child(const std::string& self, size_t mib, const std::string& ticksPath) {
    {
      UniqueFd f(open(ticksPath.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (!f || ftruncate(f.get(), kTicksBytes) != 0) throwErrno("creating " + ticksPath);
    }
    ticks_ = mapTicks(ticksPath);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throwErrno("pipe2");
    UniqueFd readEnd(fds[0]);
    UniqueFd writeEnd(fds[1]);
    std::string mibArg = std::to_string(mib);
    std::string fdArg = std::to_string(fds[1]);
    pid_ = fork();
    if (pid_ < 0) throwErrno("fork");
    if (pid_ == 0) {
      fcntl(fds[1], F_SETFD, 0);
      execl(self.c_str(), self.c_str(), "--child", mibArg.c_str(), fdArg.c_str(), ticksPath.c_str(),
            nullptr);
      _exit(127);
    }
    writeEnd.reset();
    // Ready once it said so and closed its end (then it holds no fd but stdio).
    char c = 0;
    pollfd p{readEnd.get(), POLLIN, 0};
    bool said = poll(&p, 1, 120'000) == 1 && read(readEnd.get(), &c, 1) == 1 && c == 'r';
    if (!said || poll(&p, 1, 10'000) != 1 || read(readEnd.get(), &c, 1) != 0) {
      stop();
      throw Error(fmt::format("the {} MiB child did not get ready", mib));
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    stop();
    munmap(ticks_, kTicksBytes);
  }

  pid_t pid() const { return pid_; }
  // The longest the child's clock thread went without a tick since the last reset.
  void resetStall() { ticks_->maxGapNs.store(0); }
  double stallMs() const { return double(ticks_->maxGapNs.load()) / 1e6; }
  // Has the child rewrite 1% of its pages; returns once it has (SIGUSR2 is
  // blocked in the benchmark, see main()).
  void changeOnePercent() {
    kill(pid_, SIGUSR2);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    timespec limit{120, 0};
    if (sigtimedwait(&usr2, nullptr, &limit) != SIGUSR2)
      throw Error("the child did not change its pages within 2 minutes");
  }
  // Reaps the child after something else killed it; true if it died of a signal.
  bool reapKilled() {
    int status = 0;
    if (waitpid(pid_, &status, 0) != pid_) return false;
    pid_ = -1;
    return WIFSIGNALED(status);
  }
  void stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  Ticks* ticks_ = nullptr;
};

struct RunResult {
  int exitCode;
  std::string out;
  double secs;
};

// Runs ckpt with `args`, its stdout captured, its stderr passed through.
RunResult runCkpt(const std::string& ckpt, const std::vector<std::string>& args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throwErrno("pipe2");
  UniqueFd readEnd(fds[0]);
  UniqueFd writeEnd(fds[1]);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(ckpt.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid < 0) throwErrno("fork");
  if (pid == 0) {
    dup2(fds[1], 1);
    execv(ckpt.c_str(), argv.data());
    _exit(127);
  }
  writeEnd.reset();
  RunResult r{-1, {}, 0};
  char buf[4096];
  for (ssize_t n; (n = read(readEnd.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    r.out.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  waitpid(pid, &status, 0);
  r.secs = seconds(start);
  r.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Bytes on disk under `dir`, as du counts them.
uint64_t diskUsage(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (lstat(e.path().c_str(), &st) == 0) total += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return total;
}

double memcpyGBps(size_t bytes) {
  Buffer src(bytes), dst(bytes);
  src.fill(1);
  std::memset(dst.bytes(), 1, bytes);  // a touched destination: no page faults timed
  std::vector<double> runs;
  for (int i = 0; i < 5; ++i) {
    auto t = Clock::now();
    std::memcpy(dst.bytes(), src.bytes(), bytes);
    runs.push_back(bytes / seconds(t) / 1e9);
  }
  if (std::memcmp(dst.bytes(), src.bytes(), 4096) != 0) throw Error("memcpy check failed");
  return median(runs);
}

// The kernel's copy between address spaces, as a dump reads a process
// (here from this process into itself, 1 MiB per iovec as ckpt batches).
double processVmReadvGBps(size_t bytes) {
  Buffer src(bytes), dst(bytes);
  src.fill(3);
  std::memset(dst.bytes(), 1, bytes);
  const size_t step = kMiB;
  std::vector<iovec> local, remote;
  for (size_t at = 0; at < bytes; at += step) {
    local.push_back({dst.bytes() + at, std::min(step, bytes - at)});
    remote.push_back({src.bytes() + at, std::min(step, bytes - at)});
  }
  std::vector<double> runs;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    for (size_t k = 0; k < local.size(); k += 512) {
      size_t n = std::min<size_t>(512, local.size() - k);
      if (process_vm_readv(getpid(), &local[k], n, &remote[k], n, 0) < 0)
        throwErrno("process_vm_readv");
    }
    runs.push_back(bytes / seconds(t) / 1e9);
  }
  if (std::memcmp(dst.bytes(), src.bytes(), 4096) != 0) throw Error("process_vm_readv check");
  return median(runs);
}

// Filling memory never touched before (page faults and zeroing included):
// what an eager restore must do at the least.
double freshFillGBps(size_t bytes) {
  std::vector<double> runs;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    Buffer fresh(bytes);
    std::memset(fresh.bytes(), 4, bytes);
    runs.push_back(bytes / seconds(t) / 1e9);
  }
  return median(runs);
}

double fileWriteGBps(const fs::path& dir, size_t bytes) {
  const size_t chunk = 8 * kMiB;
  Buffer buf(chunk);
  buf.fill(2);
  fs::path path = dir / "write-bandwidth.tmp";
  std::vector<double> runs;
  for (int i = 0; i < 3; ++i) {
    auto t = Clock::now();
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) throwErrno("open " + path.string());
    for (size_t done = 0; done < bytes; done += chunk) {
      size_t n = std::min(chunk, bytes - done);
      if (write(fd.get(), buf.bytes(), n) != static_cast<ssize_t>(n))
        throwErrno("write " + path.string());
    }
    if (fsync(fd.get()) != 0) throwErrno("fsync " + path.string());
    fd.reset();
    runs.push_back(bytes / seconds(t) / 1e9);
    unlink(path.c_str());
  }
  return median(runs);
}

const char* fsName(const fs::path& dir) {
  struct statfs s {};
  if (statfs(dir.c_str(), &s) != 0) return "?";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0x01021994:
      return "tmpfs";
    case 0xEF53:
      return "ext4";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794c7630:
      return "overlayfs";
    default:
      return "other";
  }
}

// Waits until a restored process (not necessarily our child) is gone.
void killAndWait(pid_t pid) {
  kill(pid, SIGKILL);
  for (int i = 0; i < 5000; ++i) {
    if (waitpid(pid, nullptr, WNOHANG) == pid) return;  // reparented to us: reaped
    if (access(fmt::format("/proc/{}", pid).c_str(), F_OK) != 0) return;
    usleep(1000);
  }
  throw Error(fmt::format("restored pid {} did not die", pid));
}

struct Row {
  size_t mib;
  std::string compress;  // "" or the --compress value
  double freezeMs, dumpS, killFreezeMs, restoreS, imageMiB, memcpy, write;
  double vmReadv = 0, fill = 0;       // process_vm_readv and fresh-memory fill GB/s
  double stallMs = 0;                 // the child's own view of the leave-running dump's freeze
  double incrMiB = 0, incrDumpS = 0;  // --parent dump after 1% of the pages changed
  double lazyRunningMs = 0, lazyTotalMs = 0;  // restore --lazy
};

// A number field of `ckpt dump --json`'s output.
double jsonNumber(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\":");
  if (at == std::string::npos) throw Error(fmt::format("no {} in ckpt's output: {}", key, json));
  return std::strtod(json.c_str() + at + key.size() + 3, nullptr);
}

Row measure(const std::string& self, const std::string& ckpt, const fs::path& dir, size_t mib,
            int runs, const std::string& compress, const std::vector<std::string>& dumpArgs) {
  size_t bytes = mib * kMiB;
  Row row{mib, compress, 0, 0, 0, 0, 0, memcpyGBps(bytes), fileWriteGBps(dir, bytes)};
  row.vmReadv = processVmReadvGBps(bytes);
  row.fill = freshFillGBps(bytes);
  std::vector<std::string> extra = dumpArgs;
  if (!compress.empty()) extra.insert(extra.end(), {"--compress", compress});
  auto withExtra = [&](std::vector<std::string> args) {
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  std::vector<double> freezes, dumps, killFreezes, restores, incrSizes, incrDumps, stalls,
      lazyRunning, lazyTotal;
  for (int r = 0; r < runs; ++r) {
    fs::path img = dir / fmt::format("img-{}-{}", mib, r);
    Child child(self, mib, (dir / fmt::format("ticks-{}-{}", mib, r)).string());
    pid_t pid = child.pid();
    child.resetStall();
    fs::path live = dir / fmt::format("img-{}-{}-live", mib, r);
    RunResult l =
        runCkpt(ckpt, withExtra({"dump", std::to_string(pid), "-o", live.string(), "--json"}));
    if (l.exitCode != 0)
      throw Error(fmt::format("`ckpt dump {} -o {} --json` failed (exit {}) on a {} MiB process",
                              pid, live.string(), l.exitCode, mib));
    freezes.push_back(jsonNumber(l.out, "freeze_ms"));
    stalls.push_back(child.stallMs());
    dumps.push_back(l.secs);
    // Incremental: 1% of the pages changed since `live`.
    child.changeOnePercent();
    fs::path incr = dir / fmt::format("img-{}-{}-incr", mib, r);
    RunResult in = runCkpt(ckpt, withExtra({"dump", std::to_string(pid), "-o", incr.string(),
                                            "--parent", live.string(), "--json"}));
    if (in.exitCode != 0)
      throw Error(fmt::format("`ckpt dump {} -o {} --parent {}` failed (exit {})", pid,
                              incr.string(), live.string(), in.exitCode));
    incrSizes.push_back(static_cast<double>(diskUsage(incr)) / kMiB);
    incrDumps.push_back(in.secs);
    fs::remove_all(incr);
    fs::remove_all(live);
    RunResult d = runCkpt(
        ckpt, withExtra({"dump", std::to_string(pid), "-o", img.string(), "--kill", "--json"}));
    if (d.exitCode != 0)
      throw Error(fmt::format(
          "`ckpt dump {} -o {} --kill` failed (exit {}) on a {} MiB process: dump does not work "
          "in this build yet, or this machine lacks a feature (run `ckpt check`)",
          pid, img.string(), d.exitCode, mib));
    if (!child.reapKilled()) throw Error("`ckpt dump --kill` did not kill the process");
    killFreezes.push_back(jsonNumber(d.out, "freeze_ms"));
    row.imageMiB = static_cast<double>(diskUsage(img)) / kMiB;

    RunResult rs = runCkpt(ckpt, {"restore", img.string(), "--detach"});
    if (rs.exitCode != 0)
      throw Error(fmt::format(
          "`ckpt restore {} --detach` failed (exit {}) for a {} MiB process: restore does not "
          "work in this build yet, or this machine lacks a feature (run `ckpt check`)",
          img.string(), rs.exitCode, mib));
    pid_t restored = static_cast<pid_t>(std::atol(rs.out.c_str()));
    if (restored != pid)
      throw Error(fmt::format("restore printed '{}', not the pid {}", rs.out, pid));
    restores.push_back(rs.secs);
    killAndWait(restored);

    RunResult lz = runCkpt(ckpt, {"restore", img.string(), "--lazy", "--detach", "--json"});
    if (lz.exitCode != 0)
      throw Error(fmt::format("`ckpt restore {} --lazy --detach --json` failed (exit {})",
                              img.string(), lz.exitCode));
    lazyRunning.push_back(jsonNumber(lz.out, "running_ms"));
    lazyTotal.push_back(lz.secs * 1e3);
    killAndWait(static_cast<pid_t>(jsonNumber(lz.out, "root")));
    fs::remove_all(img);
  }
  row.freezeMs = median(freezes);
  row.stallMs = median(stalls);
  row.killFreezeMs = median(killFreezes);
  row.dumpS = median(dumps);
  row.restoreS = median(restores);
  row.incrMiB = median(incrSizes);
  row.incrDumpS = median(incrDumps);
  row.lazyRunningMs = median(lazyRunning);
  row.lazyTotalMs = median(lazyTotal);
  return row;
}

void printTable(const std::vector<Row>& rows) {
  fmt::print(
      "| size | pages | freeze ms | stall ms | dump ms | dump GB/s | freeze ms, --kill | "
      "restore ms | restore GB/s | lazy: running again ms | lazy: all pages ms | image MiB | "
      "incremental MiB | incremental dump ms | memcpy GB/s | process_vm_readv GB/s | file write "
      "GB/s | fresh fill GB/s | dump/write ratio | restore/fill ratio |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Row& r : rows) {
    double gb = static_cast<double>(r.mib * kMiB) / 1e9;
    std::string size =
        r.mib % 1024 ? fmt::format("{} MiB", r.mib) : fmt::format("{} GiB", r.mib / 1024);
    fmt::print(
        "| {} | {} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.1f} | {:.1f} | {:.2f} | {:.1f} | "
        "{:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.1f} | {:.2f} | {:.2f} | {:.2f} | {:.2f} "
        "|\n",
        size, r.compress.empty() ? "plain" : r.compress, r.freezeMs, r.stallMs, r.dumpS * 1e3,
        gb / r.dumpS, r.killFreezeMs, r.restoreS * 1e3, gb / r.restoreS, r.lazyRunningMs,
        r.lazyTotalMs, r.imageMiB, r.incrMiB, r.incrDumpS * 1e3, r.memcpy, r.vmReadv, r.write,
        r.fill, r.dumpS / (gb / r.write), r.restoreS / (gb / r.fill));
  }
  fmt::print(
      "freeze = how long the tree stood still (ckpt dump --json freeze_ms): leave-running "
      "dumps let it run once its memory is copied (pre-copy) or a copy-on-write snapshot holds "
      "it; --kill dumps keep it frozen until killed. stall = the longest the program's own "
      "clock thread (ticking every 0.2 ms) went without a tick during the leave-running dump: "
      "the freeze as the program saw it, scheduling noise included. dump = wall time of the "
      "leave-running dump (ckpt started to "
      "exited). GB/s = 10^9 bytes/s of touched memory; dump/write ratio = dump time / time to "
      "write and fsync the same bytes to the image directory (1.0 = as fast as the disk "
      "allows); restore/fill ratio = eager restore time / time to fill as much fresh memory "
      "(mmap + memset, page faults included: 1.0 = as fast as memory can be made). pages = how "
      "page files are stored (--compress); the memory is random, so zstd "
      "cannot shrink it: those rows show what compression costs at worst. incremental = `ckpt "
      "dump --parent` of the leave-running image after the program rewrote 1% of its pages "
      "(image size on disk and wall time). lazy = `ckpt restore --lazy --detach --json` of the "
      "same image: running again = its running_ms (from ckpt's start until the tree runs, "
      "image check included); all pages = wall time until it returned with every page in.\n");
}

// Removes the benchmark's directory on every path.
struct TempDir {
  fs::path path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "--child")
    childMain(std::stoul(argv[2]), std::stoi(argv[3]), argv[4]);

  std::vector<size_t> sizes;
  std::string base = fs::temp_directory_path().string();
  int runs = 3;
  bool plainOnly = false;
  std::vector<std::string> dumpArgs;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--plain") {
      plainOnly = true;
    } else if (a == "--dump-arg" && i + 1 < argc) {
      dumpArgs.push_back(argv[++i]);
    } else if (a == "--dir" && i + 1 < argc) {
      base = argv[++i];
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (!a.empty() && a.find_first_not_of("0123456789") == std::string::npos) {
      sizes.push_back(std::stoul(a));
    } else {
      fmt::print(stderr,
                 "usage: {} [--dir DIR] [--runs N] [--plain] [--dump-arg ARG]... [SIZE_MIB...]\n",
                 argv[0]);
      return 2;
    }
  }
  if (sizes.empty()) sizes = {64, 1024, 2048};
  const char* env = std::getenv("CKPT");
  std::string ckpt = env && *env ? env : CKPT_BINARY;
  std::string self = fs::read_symlink("/proc/self/exe").string();

  try {
    // Restored processes lose their parent (ckpt) at once: make them ours to reap.
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throwErrno("PR_SET_CHILD_SUBREAPER");
    TempDir dir;
    std::string tmpl = (fs::path(base) / "ckpt-bench.XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throwErrno("mkdtemp in " + base);
    dir.path = tmpl;
    utsname u{};
    uname(&u);
    fmt::print(
        "bench_dump_restore: {} runs per size (medians); kernel {}, {} CPUs; images in {} "
        "({})\n",
        runs, u.release, sysconf(_SC_NPROCESSORS_ONLN), dir.path.string(), fsName(dir.path));
    // The children report their page changes with SIGUSR2, taken by sigtimedwait.
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, nullptr);
    std::vector<Row> rows;
    for (size_t mib : sizes)
      for (const char* compress : {"", "zstd"})
        if (!plainOnly || !*compress)
          rows.push_back(measure(self, ckpt, dir.path, mib, runs, compress, dumpArgs));
    printTable(rows);
  } catch (const std::exception& e) {
    fmt::print(stderr, "bench_dump_restore: {}\n", e.what());
    return 1;
  }
  return 0;
}
