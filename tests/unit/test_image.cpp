// The on-disk image: manifest encoding, writer, reader and verification,
// including the corruptions that restore must refuse before touching anything.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/image/Checksum.hpp"
#include "core/image/ImageReader.hpp"
#include "core/image/ImageWriter.hpp"
#include "core/image/Manifest.hpp"
#include "core/image/Model.hpp"
#include "core/image/PageCodec.hpp"
#include "core/image/PageSource.hpp"
#include "core/util/Error.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt::image {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------ helpers

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ckpt-test-image-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string errorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a ckpt::Error";
  return {};
}

::testing::AssertionResult Has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

// Replaces manifest.json and keeps manifest.xxh3 consistent with it, so the
// parser (not the checksum) sees the change.
void rewriteManifest(const std::string& dir, const std::string& text) {
  writeFile(dir + "/manifest.json", text);
  writeFile(dir + "/manifest.xxh3",
            xxh3Hex(xxh3(text.data(), text.size())) + " " + std::to_string(text.size()) + "\n");
}

void flipByte(const std::string& path, uint64_t offset, uint8_t mask = 0x01) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ mask));
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// ------------------------------------------------------------ field walker

// Visits every field of two images side by side. In `same` mode it expects
// them equal; in "set" mode (b is the default) it records which fields ever
// differ from their default, so the fixture below provably sets them all.
class FieldCheck {
 public:
  explicit FieldCheck(bool same) : same_(same) {}
  bool same() const { return same_; }

  template <class T>
  void field(const std::string& path, const T& a, const T& b) {
    seen_.insert(path);
    if (same_) {
      EXPECT_TRUE(a == b) << path << " differs after the round trip";
    } else if (!(a == b)) {
      set_.insert(path);
    }
  }
  std::string index(size_t i) const { return same_ ? "[" + std::to_string(i) + "]" : "[]"; }

  std::vector<std::string> neverSet() const {
    std::vector<std::string> out;
    for (const auto& p : seen_)
      if (!set_.count(p)) out.push_back(p);
    return out;
  }

 private:
  bool same_;
  std::set<std::string> seen_, set_;
};

#define F(name) c.field(p + "." #name, a.name, b.name)

void visit(FieldCheck& c, const std::string& p, const PageRun& a, const PageRun& b) {
  F(addr);
  F(npages);
  F(zero);
  F(offset);
  F(xxh3);
  F(image);
}

void visit(FieldCheck& c, const std::string& p, const PageFrame& a, const PageFrame& b) {
  F(raw_offset);
  F(raw_len);
  F(offset);
  F(len);
  F(xxh3);
}

void visit(FieldCheck& c, const std::string& p, const MappedFile& a, const MappedFile& b) {
  F(path);
  F(dev);
  F(ino);
  F(size);
  F(mtime_ns);
  F(xxh3);
  F(whole);
  F(written);
}

void visit(FieldCheck& c, const std::string& p, const ParentImage& a, const ParentImage& b) {
  F(path);
  F(manifest_xxh3);
}

template <class T>
void visitVec(FieldCheck& c, const std::string& p, const std::vector<T>& a,
              const std::vector<T>& b) {
  if (c.same()) {
    EXPECT_EQ(a.size(), b.size()) << p;
    if (a.size() != b.size()) return;
    for (size_t i = 0; i < a.size(); ++i) visit(c, p + c.index(i), a[i], b[i]);
  } else {
    c.field(p + ".size", a.size(), size_t{0});
    for (const T& x : a) visit(c, p + "[]", x, T{});
  }
}

void visit(FieldCheck& c, const std::string& p, const Vma& a, const Vma& b) {
  F(start);
  F(end);
  F(prot);
  F(shared);
  F(kind);
  F(name);
  F(pgoff);
  F(dev);
  F(ino);
  F(vmflags);
  visitVec(c, p + ".runs", a.runs, b.runs);
  F(object);
}

void visit(FieldCheck& c, const std::string& p, const SharedObject& a, const SharedObject& b) {
  F(id);
  F(kind);
  F(dev);
  F(ino);
  F(size);
  F(name);
  F(data_file);
  visitVec(c, p + ".runs", a.runs, b.runs);
  F(mode);
  F(sysv_key);
  F(sysv_id);
  F(sysv_uid);
  F(sysv_gid);
  F(sysv_removed);
  F(seals);
}

void visit(FieldCheck& c, const std::string& p, const SigAction& a, const SigAction& b) {
  F(signo);
  F(handler);
  F(flags);
  F(restorer);
  F(mask);
}

void visit(FieldCheck& c, const std::string& p, const ItimerValue& a, const ItimerValue& b) {
  F(interval_us);
  F(value_us);
}

void visit(FieldCheck& c, const std::string& p, const PosixTimer& a, const PosixTimer& b) {
  F(id);
  F(clockid);
  F(notify);
  F(signo);
  F(sigval);
  F(notify_tid);
  F(interval_ns);
  F(value_ns);
  F(overrun);
}

void visit(FieldCheck& c, const std::string& p, const Rlimit& a, const Rlimit& b) {
  F(cur);
  F(max);
}

void visit(FieldCheck& c, const std::string& p, const Thread& a, const Thread& b) {
  F(tid);
  F(comm);
  F(gpregs);
  F(xstate);
  F(sigmask);
  F(pending);
  F(clear_tid_address);
  F(robust_list);
  F(robust_list_len);
  F(rseq_addr);
  F(rseq_len);
  F(rseq_sig);
  F(rseq_flags);
  F(altstack_sp);
  F(altstack_size);
  F(altstack_flags);
}

void visit(FieldCheck& c, const std::string& p, const MmFields& a, const MmFields& b) {
  F(start_code);
  F(end_code);
  F(start_data);
  F(end_data);
  F(start_brk);
  F(brk);
  F(start_stack);
  F(arg_start);
  F(arg_end);
  F(env_start);
  F(env_end);
  F(auxv);
  F(exe);
}

void visit(FieldCheck& c, const std::string& p, const Credentials& a, const Credentials& b) {
  F(uid);
  F(gid);
  F(groups);
  F(cap_inh);
  F(cap_prm);
  F(cap_eff);
  F(cap_bnd);
  F(cap_amb);
  F(no_new_privs);
  F(dumpable);
}

void visit(FieldCheck& c, const std::string& p, const FdEntry& a, const FdEntry& b) {
  F(fd);
  F(file);
  F(cloexec);
}

void visit(FieldCheck& c, const std::string& p, const FileDesc& a, const FileDesc& b) {
  F(id);
  F(kind);
  F(path);
  F(flags);
  F(pos);
  F(dev);
  F(ino);
  F(mode);
  F(rdev);
  F(size);
  F(mtime_ns);
  F(pipe);
  F(content_file);
  F(content_xxh3);
  F(state);
}

void visit(FieldCheck& c, const std::string& p, const Pipe& a, const Pipe& b) {
  F(id);
  F(ino);
  F(capacity);
  F(data_file);
  F(data_size);
  F(data_xxh3);
  F(reader_outside);
  F(writer_outside);
}

void visit(FieldCheck& c, const std::string& p, const Process& a, const Process& b) {
  F(pid);
  F(ppid);
  F(pgid);
  F(sid);
  F(exit_signal);
  F(zombie);
  F(exit_status);
  F(child_subreaper);
  F(stopped);
  F(ctty);
  F(comm);
  visitVec(c, p + ".threads", a.threads, b.threads);
  visitVec(c, p + ".vmas", a.vmas, b.vmas);
  F(pages_file);
  F(pages_codec);
  visitVec(c, p + ".pages_frames", a.pages_frames, b.pages_frames);
  F(page_hashes_file);
  F(page_hashes_xxh3);
  visit(c, p + ".mm", a.mm, b.mm);
  visitVec(c, p + ".sigactions", a.sigactions, b.sigactions);
  F(pending_shared);
  for (size_t i = 0; i < 3; ++i) visit(c, p + ".itimers" + c.index(i), a.itimers[i], b.itimers[i]);
  visitVec(c, p + ".timers", a.timers, b.timers);
  F(cwd);
  F(root);
  F(umask);
  if (c.same()) {
    EXPECT_EQ(a.rlimits.size(), b.rlimits.size()) << p << ".rlimits";
    for (const auto& [res, lim] : a.rlimits) {
      auto it = b.rlimits.find(res);
      EXPECT_NE(it, b.rlimits.end()) << p << ".rlimits." << res;
      if (it != b.rlimits.end()) visit(c, p + ".rlimits." + std::to_string(res), lim, it->second);
    }
  } else {
    c.field(p + ".rlimits.size", a.rlimits.size(), size_t{0});
    for (const auto& [res, lim] : a.rlimits) visit(c, p + ".rlimits[]", lim, Rlimit{});
  }
  F(personality);
  visit(c, p + ".creds", a.creds, b.creds);
  visitVec(c, p + ".fds", a.fds, b.fds);
}

void visit(FieldCheck& c, const std::string& p, const SysvSemSet& a, const SysvSemSet& b) {
  F(id);
  F(key);
  F(mode);
  F(uid);
  F(gid);
  F(values);
  F(pids);
}

void visit(FieldCheck& c, const std::string& p, const SysvMessage& a, const SysvMessage& b) {
  F(type);
  F(size);
}

void visit(FieldCheck& c, const std::string& p, const SysvMsgQueue& a, const SysvMsgQueue& b) {
  F(id);
  F(key);
  F(mode);
  F(uid);
  F(gid);
  F(qbytes);
  F(lspid);
  F(lrpid);
  visitVec(c, p + ".messages", a.messages, b.messages);
  F(data_file);
  F(data_size);
  F(data_xxh3);
}

void visit(FieldCheck& c, const std::string& p, const FileLock& a, const FileLock& b) {
  F(pid);
  F(fd);
  F(kind);
  F(write);
  F(start);
  F(len);
}

void visit(FieldCheck& c, const std::string& p, const Hook& a, const Hook& b) {
  F(pid);
  F(name);
}

void visit(FieldCheck& c, const std::string& p, const Attachment& a, const Attachment& b) {
  F(name);
  F(file);
  F(size);
  F(xxh3);
}

void visit(FieldCheck& c, const std::string& p, const Image& a, const Image& b) {
  F(format_version);
  F(ckpt_version);
  F(kernel);
  F(hostname);
  F(created_unix);
  F(root_pid);
  F(vdso_layout);
  F(vdso_xxh3);
  visitVec(c, p + ".mapped_files", a.mapped_files, b.mapped_files);
  F(compression);
  visitVec(c, p + ".parents", a.parents, b.parents);
  visitVec(c, p + ".processes", a.processes, b.processes);
  visitVec(c, p + ".files", a.files, b.files);
  visitVec(c, p + ".pipes", a.pipes, b.pipes);
  visitVec(c, p + ".objects", a.objects, b.objects);
  visitVec(c, p + ".sysv_sems", a.sysv_sems, b.sysv_sems);
  visitVec(c, p + ".sysv_msgs", a.sysv_msgs, b.sysv_msgs);
  visitVec(c, p + ".locks", a.locks, b.locks);
  visitVec(c, p + ".hooks", a.hooks, b.hooks);
  F(layers);
  visitVec(c, p + ".attachments", a.attachments, b.attachments);
}

#undef F

void expectSameImage(const Image& a, const Image& b) {
  FieldCheck c(true);
  visit(c, "image", a, b);
}

// ------------------------------------------------------------ fixture

constexpr uint64_t kVmaA = 0x7f0000000000;
constexpr uint64_t kVmaB = 0x7f0000100000;

// An image in which every field of every struct differs from its default
// somewhere, with real page, pipe and deleted-file data written by `w`.
Image makeFullImage(ImageWriter& w) {
  Image img;
  img.ckpt_version = "0.1.0-test";
  img.kernel = "6.1.0-test-amd64";
  img.hostname = "host\xff";  // not UTF-8: stored as hex, read back as bytes
  img.created_unix = 1714567296;
  img.root_pid = 4242;
  img.vdso_layout = {16384, 8192, 8192};
  img.vdso_xxh3 = 0x0123456789abcdef;
  img.mapped_files = {{"/usr/lib/libtest.so", 0x803, 77, 8192, 1714567296123456789,
                       0xfedcba9876543210, true, true}};

  Process p;
  p.pid = 4242;
  p.ppid = 1;
  p.pgid = 4242;
  p.sid = 4200;
  p.exit_signal = 10;
  p.zombie = true;
  p.exit_status = 0x0900;
  p.child_subreaper = true;
  p.stopped = true;
  p.ctty = 0x8802;  // /dev/pts/2
  p.comm = "bash";

  Thread t;
  t.tid = 4242;
  t.comm = "bash";
  t.gpregs = pattern(216, 1);
  t.xstate = pattern(1088, 2);
  t.sigmask = 0x10002;
  t.pending = {pattern(128, 3), pattern(128, 4)};
  t.clear_tid_address = 0x7f00000010a0;
  t.robust_list = 0x7f00000010b0;
  t.robust_list_len = 24;
  t.rseq_addr = 0x7f0000001100;
  t.rseq_len = 32;
  t.rseq_sig = 0x53053053;
  t.rseq_flags = 1;
  t.altstack_sp = 0x7f0000200000;
  t.altstack_size = 65536;
  t.altstack_flags = 2;
  p.threads = {t};
  Thread t2 = t;
  t2.tid = 4243;
  t2.comm = "worker \x01 \"quoted\"";
  p.threads.push_back(t2);

  // Pages: two data runs and a zero run, written for real.
  p.pages_file = "pages-4242.img";
  DataFile& pages = w.dataFile(p.pages_file);
  const auto data1 = pattern(2 * kPageSize, 5);
  const auto data2 = pattern(kPageSize, 6);
  const auto w1 = pages.append(data1.data(), data1.size());
  const auto w2 = pages.append(data2.data(), data2.size());

  Vma a;
  a.start = kVmaA;
  a.end = kVmaA + 8 * kPageSize;
  a.prot = 3;
  a.shared = true;
  a.kind = VmaKind::SharedAnon;
  a.name = "/dev/zero (deleted)";
  a.pgoff = 4096;
  a.dev = 0x803;
  a.ino = 1234;
  a.vmflags = {"rd", "wr", "sh"};
  a.runs = {{kVmaA, 2, false, w1.offset, w1.xxh3}, {kVmaA + 2 * kPageSize, 4, true, 0, 0}};
  Vma b;
  b.start = kVmaB;
  b.end = kVmaB + kPageSize;
  b.kind = VmaKind::File;
  b.name = "/usr/lib/x86_64-linux-gnu/libc.so.6";
  b.runs = {{kVmaB, 1, false, w2.offset, w2.xxh3}};
  b.object = 1;
  p.vmas = {a, b};

  p.mm = {0x400000,       0x401000,   0x402000,   0x403000,
          0x404000,       0x405000,   0x7ffd0000, 0x7ffd1000,
          0x7ffd2000,     0x7ffd3000, 0x7ffd4000, {33, 0x7ffd5000, 16, 0xbfebfbff, 6, 4096, 0, 0},
          "/usr/bin/bash"};
  p.sigactions = {{2, 0x401234, 0x04000000, 0x401000, 0x2}, {13, 1, 0, 0, 0}};
  p.pending_shared = {pattern(128, 7)};
  p.itimers = {ItimerValue{1000, 2000}, ItimerValue{3, 4}, ItimerValue{5, 6}};
  p.timers = {{1, 1, 4, 14, 0x1234, 4243, 1000000, 500000, 2}};
  p.cwd = "/home/user/dir with spaces/\xc3\xa9t\xc3\xa9";  // valid UTF-8 stays a string
  p.root = "/srv/chroot";
  p.umask = 077;
  p.rlimits = {{7, {1024, 4096}}, {3, {8388608, UINT64_MAX}}, {99, {1, 2}}};
  p.personality = 0x0040000;
  p.creds.uid = {1000, 1001, 1002, 1003};
  p.creds.gid = {100, 101, 102, 103};
  p.creds.groups = {4, 24, 27};
  p.creds.cap_inh = 1;
  p.creds.cap_prm = 2;
  p.creds.cap_eff = 3;
  p.creds.cap_bnd = 0x1ffffffffff;
  p.creds.cap_amb = 5;
  p.creds.no_new_privs = true;
  p.creds.dumpable = 0;
  p.fds = {{0, 1, true}, {3, 2, false}, {4, 3, true}};
  img.processes = {p};

  Process child;
  child.pid = 4250;
  child.ppid = 4242;
  child.comm = "sleep";
  child.threads = {Thread{}};
  child.threads[0].tid = 4250;
  child.fds = {{1, 2, false}};
  // Compressed pages, a run left in a parent image, and page hashes.
  img.compression = "zstd:1";
  img.parents = {{"/var/tmp/parent.img", 0x1122334455667788}};
  child.pages_file = "pages-4250.img";
  child.pages_codec = "zstd";
  PageFileWriter packed(w.dataFile(child.pages_file), parseCompression("zstd"), nullptr);
  const auto data3 = pattern(3 * kPageSize, 10);
  // Two appends, two frames.
  const uint64_t at3 = packed.append(reinterpret_cast<const char*>(data3.data()), kPageSize);
  packed.append(reinterpret_cast<const char*>(data3.data()) + kPageSize, 2 * kPageSize);
  child.pages_frames = packed.frames();
  Vma cv;
  cv.start = kVmaB + 16 * kPageSize;
  cv.end = cv.start + 8 * kPageSize;
  PageRun own{cv.start, 3, false, at3, xxh3(data3.data(), data3.size())};
  PageRun inParent{cv.start + 3 * kPageSize, 2, false, 8192, 0xfeed};
  inParent.image = 1;
  cv.runs = {own, inParent};
  child.vmas = {cv};
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 5; ++i) hashes.push_back(0x100 + i);
  child.page_hashes_file = "hashes-4250.img";
  child.page_hashes_xxh3 =
      w.writeBlob(child.page_hashes_file, hashes.data(), hashes.size() * sizeof(uint64_t));
  img.processes.push_back(child);

  const std::string pipeData = "bytes in flight\n";
  Pipe pipe;
  pipe.id = 7;
  pipe.ino = 88121;
  pipe.capacity = 65536;
  pipe.data_file = "pipe-7.data";
  pipe.data_size = pipeData.size();
  pipe.data_xxh3 = w.writeBlob(pipe.data_file, pipeData.data(), pipeData.size());
  pipe.reader_outside = true;
  pipe.writer_outside = true;
  img.pipes = {pipe};

  SharedObject shm;
  shm.id = 1;
  shm.kind = VmaKind::Sysv;
  shm.dev = 1;
  shm.ino = 32768;
  shm.size = 65536;
  shm.name = "/SYSV00001234";
  shm.data_file = "shm-0.img";
  const auto shmData = pattern(kPageSize, 9);
  w.dataFile(shm.data_file).append(shmData.data(), shmData.size());  // so the run's offset is not 0
  const auto ws = w.dataFile(shm.data_file).append(shmData.data(), shmData.size());
  shm.runs = {{0, 1, false, ws.offset, ws.xxh3}, {4096, 15, true, 0, 0}};
  shm.mode = 0640;
  shm.sysv_key = 0x1234;
  shm.sysv_id = 32768;
  shm.sysv_uid = 1000;
  shm.sysv_gid = 1000;
  shm.sysv_removed = true;
  shm.seals = 1;
  img.objects = {shm};

  SysvSemSet sem;
  sem.id = 65538;
  sem.key = 0x4321;
  sem.mode = 0600;
  sem.uid = 1000;
  sem.gid = 1000;
  sem.values = {3, 0, 32767};
  sem.pids = {4242, 0, 4243};
  img.sysv_sems = {sem};
  SysvMsgQueue q;
  q.id = 98306;
  q.key = -5;
  q.mode = 0620;
  q.uid = 1000;
  q.gid = 1000;
  q.qbytes = 8000;
  q.lspid = 4242;
  q.lrpid = 4243;
  const std::string msgData =
      "first"
      "second";
  q.messages = {{5, 5}, {1, 6}};
  q.data_file = "sysv-msg-98306.img";
  q.data_size = msgData.size();
  q.data_xxh3 = w.writeBlob(q.data_file, msgData.data(), msgData.size());
  img.sysv_msgs = {q};
  FileLock lock;
  lock.pid = 4242;
  lock.fd = 7;
  lock.kind = LockKind::Ofd;
  lock.write = true;
  lock.start = 100;
  lock.len = 20;
  img.locks = {lock};

  const std::string content = "content of a deleted file";
  FileDesc tty;
  tty.id = 1;
  tty.kind = FileKind::CharDevice;
  tty.path = "/dev/pts/3";
  tty.flags = 02;
  tty.mode = 020620;
  tty.rdev = 0x8803;
  FileDesc pipeEnd;
  pipeEnd.id = 2;
  pipeEnd.kind = FileKind::Pipe;
  pipeEnd.path = "pipe:[88121]";
  pipeEnd.flags = 01;
  pipeEnd.pipe = 7;
  FileDesc deleted;
  deleted.id = 3;
  deleted.kind = FileKind::Deleted;
  deleted.path = std::string("/tmp/gone\xfe\x00x", 12);  // any bytes, even NUL
  deleted.flags = 02 | 02000;
  deleted.pos = -1;  // not a real offset, but must survive
  deleted.dev = 0x803;
  deleted.ino = 555;
  deleted.mode = 0100600;
  deleted.state = {{"count", 7}, {"list", {1, 2, 3}}};
  deleted.size = static_cast<int64_t>(content.size());
  deleted.mtime_ns = 1714567296123456789;
  deleted.content_file = "file-3.data";
  deleted.content_xxh3 = w.writeBlob(deleted.content_file, content.data(), content.size());
  img.files = {tty, pipeEnd, deleted};
  img.hooks = {{4250, "ckpt-hook:editor"}};
  img.layers["tty"] = {{"ptys", {{{"index", 2}}}}, {"terminal", nullptr}};
  const std::string picture = "not really a PNG";
  img.attachments = {{"thumbnail", "thumbnail.png", picture.size(),
                      w.writeBlob("thumbnail.png", picture.data(), picture.size())}};
  return img;
}

// A committed image in a fresh temp dir.
class ImageOnDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = tmp.path() + "/img";
    ImageWriter w(dir);
    image = makeFullImage(w);
    w.commit(image);
  }
  std::string file(const std::string& name) const { return dir + "/" + name; }
  nlohmann::json manifestJson() const {
    return nlohmann::json::parse(readFile(file("manifest.json")));
  }
  std::string readError() const {
    return errorOf([&] { verifyImage(dir, readImage(dir)); });
  }

  TempDir tmp;
  std::string dir;
  Image image;
};

// ------------------------------------------------------------ tests: model and manifest

TEST(ImageModel, FixtureSetsEveryField) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  FieldCheck c(false);
  visit(c, "image", makeFullImage(w), Image{});
  std::vector<std::string> unset;
  for (const auto& p : c.neverSet())
    // format_version must stay kFormatVersion; shared objects are saved whole
    // in every image, never left in a parent.
    if (p != "image.format_version" && p != "image.objects[].runs[].image") unset.push_back(p);
  std::string list;
  for (const auto& p : unset) list += "\n  " + p;
  EXPECT_TRUE(unset.empty()) << "set these in makeFullImage():" << list;
}

// When Model.hpp grows, its new fields must reach Manifest.cpp and the field
// walker above, or images silently lose them.
TEST(ImageModel, StructSizesAreTheOnesManifestKnows) {
  const char* hint =
      "Model.hpp changed: update Manifest.cpp, the visit() functions and "
      "makeFullImage() in test_image.cpp, then these sizes";
  EXPECT_EQ(sizeof(PageRun), 48u) << hint;
  EXPECT_EQ(sizeof(PageFrame), 40u) << hint;
  EXPECT_EQ(sizeof(ParentImage), 40u) << hint;
  EXPECT_EQ(sizeof(MappedFile), 80u) << hint;
  EXPECT_EQ(sizeof(Vma), 144u) << hint;
  EXPECT_EQ(sizeof(SigAction), 40u) << hint;
  EXPECT_EQ(sizeof(ItimerValue), 16u) << hint;
  EXPECT_EQ(sizeof(PosixTimer), 56u) << hint;
  EXPECT_EQ(sizeof(Rlimit), 16u) << hint;
  EXPECT_EQ(sizeof(Thread), 192u) << hint;
  EXPECT_EQ(sizeof(MmFields), 144u) << hint;
  EXPECT_EQ(sizeof(Credentials), 104u) << hint;
  EXPECT_EQ(sizeof(FdEntry), 12u) << hint;
  EXPECT_EQ(sizeof(FileDesc), 168u) << hint;
  EXPECT_EQ(sizeof(Pipe), 80u) << hint;
  EXPECT_EQ(sizeof(Process), 768u) << hint;
  EXPECT_EQ(sizeof(Hook), 40u) << hint;
  EXPECT_EQ(sizeof(SysvSemSet), 72u) << hint;
  EXPECT_EQ(sizeof(SysvMessage), 16u) << hint;
  EXPECT_EQ(sizeof(SysvMsgQueue), 112u) << hint;
  EXPECT_EQ(sizeof(FileLock), 32u) << hint;
  EXPECT_EQ(sizeof(Attachment), 80u) << hint;
  EXPECT_EQ(sizeof(Image), 496u) << hint;
}

TEST(Manifest, RoundTripThroughText) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  const Image img = makeFullImage(w);
  const std::string text = writeManifest(img);
  expectSameImage(img, parseManifest(text));
  // Stable: writing what was read gives the same bytes.
  EXPECT_EQ(writeManifest(parseManifest(text)), text);
}

TEST(Manifest, RoundTripThroughJsonHooks) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  const Image img = makeFullImage(w);
  const nlohmann::json j = img;
  expectSameImage(img, j.get<Image>());
  const nlohmann::json t = img.processes[0].threads[0];
  EXPECT_EQ(t["gpregs"].get<std::string>().substr(0, 6), "01080f");  // lowercase hex
  EXPECT_EQ(nlohmann::json(VmaKind::SharedAnon), "shared_anon");
  EXPECT_EQ(nlohmann::json(FileKind::CharDevice), "char_device");
}

TEST(Manifest, ReadableAndCompact) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  const std::string text = writeManifest(makeFullImage(w));
  // Enums are words, runs are one-line arrays, non-UTF-8 strings are hex objects.
  EXPECT_TRUE(Has(text, "\"kind\": \"shared_anon\""));
  EXPECT_TRUE(Has(text, fmt::format("[{}, 4, 1, 0, 0]", kVmaA + 2 * kPageSize)));
  EXPECT_TRUE(Has(text, "\"hostname\": {\n    \"hex\": \"686f7374ff\"\n  }"));
  EXPECT_TRUE(Has(text, "\"nofile\": {"));
  EXPECT_TRUE(Has(text, "\"99\": {"));
  EXPECT_NO_THROW(nlohmann::json::parse(text));
}

// Each entry: a JSON pointer, the value put there, and the message expected.
struct Mutation {
  const char* pointer;
  nlohmann::json value;
  const char* message;
};

class ManifestTypes : public ::testing::TestWithParam<Mutation> {};

TEST_P(ManifestTypes, ErrorNamesTheField) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  nlohmann::json j = nlohmann::json::parse(writeManifest(makeFullImage(w)));
  const Mutation& m = GetParam();
  if (m.value.is_discarded()) {
    const nlohmann::json::json_pointer ptr(m.pointer);
    j[ptr.parent_pointer()].erase(ptr.back());
  } else {
    j[nlohmann::json::json_pointer(m.pointer)] = m.value;
  }
  EXPECT_EQ(errorOf([&] { parseManifest(j.dump()); }), m.message);
}

INSTANTIATE_TEST_SUITE_P(
    Image, ManifestTypes,
    ::testing::Values(
        Mutation{"/processes/0/threads/1/gpregs", 12,
                 "manifest.json: processes[0].threads[1].gpregs: expected hex string, got 12"},
        Mutation{"/processes/0/threads/0/gpregs", "abc",
                 "manifest.json: processes[0].threads[0].gpregs: expected hex string (odd length)"},
        Mutation{"/processes/0/threads/0/pending/1", "zz",
                 "manifest.json: processes[0].threads[0].pending[1]: expected hex string (bad "
                 "digit at 0)"},
        Mutation{"/processes/1/pid", "4250",
                 "manifest.json: processes[1].pid: expected integer, got string"},
        Mutation{"/processes/0/pid", 4294967296ull,
                 "manifest.json: processes[0].pid: 4294967296 out of range [-2147483648, "
                 "2147483647]"},
        Mutation{"/processes/0/umask", -1,
                 "manifest.json: processes[0].umask: -1 out of range [0, 4294967295]"},
        Mutation{"/processes/0/vmas/0/start", 1.5,
                 "manifest.json: processes[0].vmas[0].start: expected unsigned integer, got 1.5"},
        Mutation{"/processes/0/vmas/1/kind", "weird",
                 "manifest.json: processes[0].vmas[1].kind: unknown mapping kind \"weird\" "
                 "(known: anonymous, file, shared_anon, vdso, vvar, vvar_vclock, vsyscall, sysv, "
                 "memfd, deleted_file)"},
        Mutation{"/processes/0/vmas/0/runs/1",
                 {1, 2, 3},
                 "manifest.json: processes[0].vmas[0].runs[1]: expected page run [addr, npages, "
                 "zero, offset, xxh3(, image)], got 3 elements"},
        Mutation{"/processes/0/vmas/0/runs/1/2", 2,
                 "manifest.json: processes[0].vmas[0].runs[1][2]: expected 0 or 1, got 2"},
        Mutation{"/processes/0/itimers",
                 {1, 2},
                 "manifest.json: processes[0].itimers: expected array of 3, got 2 elements"},
        Mutation{"/processes/0/rlimits/bogus",
                 {{"cur", 1}, {"max", 2}},
                 "manifest.json: processes[0].rlimits: unknown resource \"bogus\""},
        Mutation{"/processes/0/rlimits/7",
                 {{"cur", 1}, {"max", 2}},
                 "manifest.json: processes[0].rlimits.nofile: resource given twice"},
        Mutation{"/processes/0/creds", nullptr,
                 "manifest.json: processes[0].creds: expected object, got null"},
        Mutation{"/processes/0/comm",
                 {{"hex", "4x"}},
                 "manifest.json: processes[0].comm.hex: expected hex string (bad digit at 1)"},
        Mutation{"/processes/0/zombie", 1,
                 "manifest.json: processes[0].zombie: expected true or false, got 1"},
        Mutation{"/files/2/kind", 3,
                 "manifest.json: files[2].kind: expected file kind name, got 3"},
        Mutation{"/pipes", {{"id", 1}}, "manifest.json: pipes: expected array, got object"},
        Mutation{"/processes/0/mm/exe", nlohmann::json(nlohmann::json::value_t::discarded),
                 "manifest.json: processes[0].mm.exe: missing"}));

TEST(Manifest, RejectsWhatIsNotJson) {
  EXPECT_TRUE(
      Has(errorOf([] { parseManifest("{\"format_version\": 1,"); }), "manifest.json: parse error"));
  EXPECT_TRUE(Has(errorOf([] { parseManifest(""); }), "manifest.json: "));
  EXPECT_EQ(errorOf([] { parseManifest("[1]"); }), "manifest.json: expected object, got array");
  EXPECT_EQ(errorOf([] { parseManifest("{}"); }), "manifest.json: format_version: missing");
  EXPECT_EQ(errorOf([] { parseManifest("{\"format_version\": 3}"); }),
            "manifest.json: format version 3, this ckpt reads versions 1 to 2");
  EXPECT_EQ(errorOf([] { parseManifest("{\"format_version\": 0}"); }),
            "manifest.json: format version 0, this ckpt reads versions 1 to 2");
  EXPECT_TRUE(
      Has(errorOf([] { parseManifest("{\"format_version\": 1e999}"); }), "manifest.json: "));
}

TEST(Manifest, DeepNestingDoesNotCrash) {
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  EXPECT_EQ(errorOf([&] { parseManifest(deep); }), "manifest.json: expected object, got array");
  const std::string hidden =
      "{\"format_version\": 1, \"x\": " + deep + ", \"processes\": " + deep + "}";
  EXPECT_TRUE(Has(errorOf([&] { parseManifest(hidden); }), "manifest.json: "));
}

// A small in-process fuzz: random byte edits of a real manifest either parse
// or give an Error, never anything else.
TEST(Manifest, RandomEditsGiveErrorsNotCrashes) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  const std::string text = writeManifest(makeFullImage(w));
  std::mt19937 rng(1234);
  const std::string alphabet = "{}[]\",:0123456789-.eEtrufalsn \\xa";
  for (int i = 0; i < 3000; ++i) {
    std::string s = text;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 8);
          break;
        default:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
    }
    try {
      parseManifest(s);
    } catch (const Error&) {
    } catch (const std::exception& ex) {
      ADD_FAILURE() << "not a ckpt::Error: " << ex.what() << "\ninput edit " << i;
    }
  }
}

// ------------------------------------------------------------ tests: writer

TEST(ImageWriter, AppendReportsOffsetsAndChecksums) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  DataFile& f = w.dataFile("pages-1.img");
  const auto a = pattern(kPageSize, 1);
  const auto b = pattern(3 * kPageSize, 2);
  const auto wa = f.append(a.data(), a.size());
  const auto wb = f.append(b.data(), b.size());
  EXPECT_EQ(wa.offset, 0u);
  EXPECT_EQ(wb.offset, kPageSize);
  EXPECT_EQ(wa.xxh3, xxh3(a.data(), a.size()));
  EXPECT_EQ(wb.xxh3, xxh3(b.data(), b.size()));
  EXPECT_EQ(f.size(), 4 * kPageSize);
  EXPECT_EQ(&w.dataFile("pages-1.img"), &f);  // same file on second use
  EXPECT_EQ(fs::file_size(w.partialDir() + "/pages-1.img"), 4 * kPageSize);
}

TEST(ImageWriter, ChecksumStreamMatchesOneShot) {
  const auto data = pattern(100000, 9);
  Xxh3Stream s;
  s.update(data.data(), 1);
  s.update(data.data() + 1, 65535);
  s.update(data.data() + 65536, data.size() - 65536);
  EXPECT_EQ(s.digest(), xxh3(data.data(), data.size()));
  EXPECT_EQ(xxh3Hex(0xabc), "0000000000000abc");
}

TEST(ImageWriter, CommitMakesTheDirectoryWithPrivateModes) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/img";
  {
    ImageWriter w(dir + "/");  // a trailing slash names the same image
    EXPECT_EQ(w.partialDir(), dir + ".partial");
    EXPECT_TRUE(fs::is_directory(dir + ".partial"));
    const Image img = makeFullImage(w);
    w.commit(img);
    EXPECT_TRUE(w.committed());
  }
  EXPECT_FALSE(fs::exists(dir + ".partial"));
  struct stat st;
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  for (const char* name : {"manifest.json", "manifest.xxh3", "pages-4242.img", "pipe-7.data"}) {
    ASSERT_EQ(::stat((dir + "/" + name).c_str(), &st), 0) << name;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  const std::string manifest = readFile(dir + "/manifest.json");
  EXPECT_EQ(readFile(dir + "/manifest.xxh3"), xxh3Hex(xxh3(manifest.data(), manifest.size())) +
                                                  " " + std::to_string(manifest.size()) + "\n");
}

TEST(ImageWriter, UncommittedImageIsRemoved) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/img";
  {
    ImageWriter w(dir);
    const auto data = pattern(kPageSize, 1);
    w.dataFile("pages-1.img").append(data.data(), data.size());
    w.writeBlob("pipe-1.data", "x", 1);
    EXPECT_TRUE(fs::exists(dir + ".partial/pages-1.img"));
  }
  EXPECT_FALSE(fs::exists(dir + ".partial"));
  EXPECT_FALSE(fs::exists(dir));
}

TEST(ImageWriter, RefusesAnExistingDirectory) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/img";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  EXPECT_EQ(errorOf([&] { ImageWriter w(dir); }),
            "image directory " + dir + " already exists; choose another -o or remove it");
  EXPECT_FALSE(fs::exists(dir + ".partial"));
  // Nor an existing file of that name.
  writeFile(tmp.path() + "/file", "x");
  EXPECT_TRUE(Has(errorOf([&] { ImageWriter w(tmp.path() + "/file"); }), "already exists"));
}

TEST(ImageWriter, ReplacesAStalePartialDirectory) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/img";
  ASSERT_EQ(::mkdir((dir + ".partial").c_str(), 0755), 0);
  writeFile(dir + ".partial/pages-1.img", "stale");
  ImageWriter w(dir);
  EXPECT_FALSE(fs::exists(dir + ".partial/pages-1.img"));
  w.commit(Image{});
  EXPECT_NO_THROW(readImage(dir));
}

TEST(ImageWriter, CommitNeverReplacesADirectoryCreatedMeanwhile) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/img";
  ImageWriter w(dir);
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);  // empty: rename() would replace it
  EXPECT_TRUE(Has(errorOf([&] { w.commit(Image{}); }), "already exists"));
  EXPECT_TRUE(fs::is_empty(dir));
}

TEST(ImageWriter, RefusesFileNamesOutsideTheImage) {
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  for (const char* name : {"", ".", "..", "../escape", "a/b", "manifest.json", "manifest.xxh3"})
    EXPECT_TRUE(Has(errorOf([&] { w.dataFile(name); }), "cannot be a file name")) << name;
  w.writeBlob("blob", "x", 1);
  EXPECT_TRUE(Has(errorOf([&] { w.writeBlob("blob", "y", 1); }), "blob"));
}

TEST(ImageWriter, WriteErrorsNameTheFile) {
  if (!fs::exists("/dev/full")) GTEST_SKIP() << "no /dev/full";
  // A DataFile whose fd is /dev/full fails every write with ENOSPC, like a full disk.
  TempDir tmp;
  ImageWriter w(tmp.path() + "/img");
  DataFile& f = w.dataFile("pages-1.img");
  const int full = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
  ASSERT_GE(full, 0);
  ASSERT_GE(::dup2(full, f.fd()), 0);
  ::close(full);
  const auto data = pattern(kPageSize, 1);
  EXPECT_EQ(errorOf([&] { f.append(data.data(), data.size()); }),
            "write " + w.partialDir() + "/pages-1.img: No space left on device");
}

// ------------------------------------------------------------ tests: reader

TEST_F(ImageOnDisk, ReadsBackWhatWasWritten) {
  const Image back = readImage(dir);
  expectSameImage(image, back);
  EXPECT_NO_THROW(verifyImage(dir, back));
}

TEST_F(ImageOnDisk, TruncatedPageFile) {
  fs::resize_file(file("pages-4242.img"), 2 * kPageSize);
  EXPECT_EQ(readError(), "image " + dir +
                             ": pages-4242.img: truncated: expected at least 12288 bytes, file "
                             "has 8192");
}

TEST_F(ImageOnDisk, FlippedBitInAPageRun) {
  flipByte(file("pages-4242.img"), kPageSize + 100, 0x10);
  EXPECT_EQ(readError(), "image " + dir + ": pages-4242.img: run at 0x7f0000000000 (2 pages) " +
                             "checksum mismatch: the image is corrupt");
}

TEST_F(ImageOnDisk, FlippedByteInManifest) {
  flipByte(file("manifest.json"), 40);
  EXPECT_EQ(readError(),
            "image " + dir + ": manifest.json: checksum mismatch: the image is corrupt");
}

TEST_F(ImageOnDisk, ManifestLongerOrShorterThanRecorded) {
  const std::string text = readFile(file("manifest.json"));
  writeFile(file("manifest.json"), text + " ");
  EXPECT_EQ(readError(), "image " + dir + ": manifest.json: expected " +
                             std::to_string(text.size()) + " bytes, file has " +
                             std::to_string(text.size() + 1) + ": the image is corrupt");
  writeFile(file("manifest.json"), text.substr(0, 10));
  EXPECT_EQ(readError(), "image " + dir + ": manifest.json: truncated: expected at least " +
                             std::to_string(text.size()) + " bytes, file has 10");
}

TEST_F(ImageOnDisk, ManifestChecksumMissingOrMalformed) {
  fs::remove(file("manifest.xxh3"));
  EXPECT_EQ(readError(), "image " + dir + ": manifest.xxh3: missing: the image is incomplete");
  writeFile(file("manifest.xxh3"), "not a checksum\n");
  EXPECT_TRUE(Has(readError(), "image " + dir + ": manifest.xxh3: malformed"));
  writeFile(file("manifest.xxh3"), "0123456789abcdef 12345678901234567890123\n");
  EXPECT_TRUE(Has(readError(), "manifest.xxh3: malformed"));
}

TEST_F(ImageOnDisk, ManifestMissing) {
  fs::remove(file("manifest.json"));
  EXPECT_EQ(readError(), "image " + dir + ": manifest.json: missing: the image is incomplete");
}

TEST_F(ImageOnDisk, WrongFormatVersion) {
  TempDir other;
  Image img;
  img.format_version = 99;
  ImageWriter w(other.path() + "/v99");
  w.commit(img);
  EXPECT_EQ(
      errorOf([&] { readImage(other.path() + "/v99"); }),
      "image " + other.path() + "/v99 has format version 99, this ckpt reads versions 1 to 2");
}

TEST_F(ImageOnDisk, InvalidJson) {
  rewriteManifest(dir, "{\"format_version\": 1, oops}");
  EXPECT_TRUE(Has(readError(), "image " + dir + ": manifest.json: parse error"));
}

TEST_F(ImageOnDisk, WrongTypeNamesFileAndField) {
  nlohmann::json j = manifestJson();
  j["processes"][0]["threads"][0]["gpregs"] = {1, 2};
  rewriteManifest(dir, j.dump());
  EXPECT_EQ(readError(), "image " + dir +
                             ": manifest.json: processes[0].threads[0].gpregs: expected hex "
                             "string, got array");
}

TEST_F(ImageOnDisk, MissingPageFile) {
  fs::remove(file("pages-4242.img"));
  EXPECT_EQ(readError(), "image " + dir + ": pages-4242.img: missing: the image is incomplete");
}

TEST_F(ImageOnDisk, CorruptPipeData) {
  flipByte(file("pipe-7.data"), 3);
  EXPECT_EQ(readError(),
            "image " + dir + ": pipe-7.data: content checksum mismatch: the image is corrupt");
  fs::resize_file(file("pipe-7.data"), 4);
  EXPECT_EQ(readError(),
            "image " + dir + ": pipe-7.data: truncated: expected at least 16 bytes, file has 4");
}

TEST_F(ImageOnDisk, CorruptDeletedFileContent) {
  flipByte(file("file-3.data"), 0);
  EXPECT_EQ(readError(),
            "image " + dir + ": file-3.data: content checksum mismatch: the image is corrupt");
  fs::remove(file("file-3.data"));
  EXPECT_EQ(readError(), "image " + dir + ": file-3.data: missing: the image is incomplete");
}

TEST_F(ImageOnDisk, CorruptAttachment) {
  flipByte(file("thumbnail.png"), 2);
  EXPECT_EQ(readError(),
            "image " + dir + ": thumbnail.png: content checksum mismatch: the image is corrupt");
  flipByte(file("thumbnail.png"), 2);  // back as written
  Image img = readImage(dir);
  img.attachments.push_back(img.attachments.front());
  EXPECT_TRUE(Has(errorOf([&] { verifyImage(dir, img); }), "attachment thumbnail given twice"));
}

TEST_F(ImageOnDisk, ImagesWithoutAttachmentsStillRead) {
  nlohmann::json j = manifestJson();
  j.erase("attachments");
  Image img;
  from_json(j, img);
  EXPECT_TRUE(img.attachments.empty());
}

TEST_F(ImageOnDisk, ManifestNamesOutsideTheImage) {
  Image img = readImage(dir);
  img.processes[0].pages_file = "../escape";
  EXPECT_TRUE(Has(errorOf([&] { verifyImage(dir, img); }),
                  "'../escape' is not a file name inside the image"));
}

TEST_F(ImageOnDisk, InconsistentManifest) {
  Image img = readImage(dir);
  img.processes[0].vmas[0].runs[0].addr -= kPageSize;
  EXPECT_EQ(errorOf([&] { verifyImage(dir, img); }),
            "image " + dir +
                ": pid 4242: run at 0x7efffffff000 (2 pages) lies outside its mapping "
                "0x7f0000000000-0x7f0000008000: the image is corrupt");

  img = readImage(dir);
  img.processes[0].vmas[0].runs[0].npages = UINT64_MAX / 2;
  EXPECT_TRUE(Has(errorOf([&] { verifyImage(dir, img); }), "is too large"));

  img = readImage(dir);
  img.processes[0].vmas[1].runs[0].offset = UINT64_MAX - 10;
  EXPECT_TRUE(Has(errorOf([&] { verifyImage(dir, img); }), "impossible offset"));

  img = readImage(dir);
  img.processes[1].fds[0].file = 42;
  EXPECT_EQ(errorOf([&] { verifyImage(dir, img); }),
            "image " + dir +
                ": pid 4250 fd 1 refers to open file 42, which the image does not have: the "
                "image is corrupt");

  img = readImage(dir);
  img.files[1].pipe = 8;
  EXPECT_TRUE(Has(errorOf([&] { verifyImage(dir, img); }), "refers to pipe 8"));
}

TEST_F(ImageOnDisk, NotAnImage) {
  EXPECT_EQ(errorOf([&] { readImage(dir + "-nope"); }), "image " + dir + "-nope does not exist");
  EXPECT_EQ(errorOf([&] { readImage(file("manifest.json")); }),
            "image " + file("manifest.json") + " is not a directory");
}

}  // namespace
}  // namespace ckpt::image

// ------------------------------------------------------------ tests: compressed page files

namespace ckpt::image {
namespace {

// A page file of two frames, as a dump writes it.
struct PackedPages {
  PackedPages() : dir(tmp.path() + "/img") {
    ImageWriter w(dir);
    p.pid = 7;
    p.pages_file = "pages-7.img";
    p.pages_codec = "zstd";
    PageFileWriter packed(w.dataFile(p.pages_file), parseCompression("zstd:3"), nullptr);
    data = pattern(6 * kPageSize, 11);
    const char* bytes = reinterpret_cast<const char*>(data.data());
    packed.append(bytes, 4 * kPageSize);
    packed.append(bytes + 4 * kPageSize, 2 * kPageSize);
    p.pages_frames = packed.frames();
    Image img;
    img.processes = {p};
    w.commit(img);
  }
  std::vector<Extent> runs() const {
    return {Extent{kPageSize, 4 * kPageSize, xxh3(data.data() + kPageSize, 4 * kPageSize),
                   "run at 0x1000 (4 pages)"}};
  }
  TempDir tmp;
  std::string dir;
  Process p;
  std::vector<uint8_t> data;
};

TEST(PageSource, ReadsAcrossFramesAndChecksDecompressedRuns) {
  PackedPages pk;
  ASSERT_EQ(pk.p.pages_frames.size(), 2u);
  EXPECT_LT(pk.p.pages_frames[0].len, pk.p.pages_frames[0].raw_len) << "nothing was compressed";
  PageSource src(pk.dir, pk.p);
  EXPECT_FALSE(src.plain());
  EXPECT_EQ(src.rawSize(), 6 * kPageSize);
  std::vector<uint8_t> out(4 * kPageSize);
  WorkerPool pool(1);
  src.read(kPageSize, out.size(), reinterpret_cast<char*>(out.data()), &pool);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), pk.data.begin() + long(kPageSize)));
  auto runs = pk.runs();
  EXPECT_NO_THROW(src.check(runs, true, &pool));
  runs[0].xxh3 ^= 1;
  EXPECT_TRUE(Has(errorOf([&] { src.check(runs, true, &pool); }),
                  "run at 0x1000 (4 pages) checksum mismatch after decompression"));
  EXPECT_TRUE(
      Has(errorOf([&] { src.read(5 * kPageSize, 2 * kPageSize, nullptr, nullptr); }), "truncated"));
}

// Bytes changed inside a frame whose checksum was made to match: only the
// decompression (deep check, or restore) can tell, and it says so.
TEST(PageSource, CorruptFrameWithMatchingChecksumFailsDecompression) {
  PackedPages pk;
  const std::string path = pk.dir + "/" + pk.p.pages_file;
  std::string bytes = readFile(path);
  PageFrame& f = pk.p.pages_frames[0];
  bytes[f.offset + f.len / 2] ^= 0x55;
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  f.xxh3 = xxh3(bytes.data() + f.offset, f.len);
  PageSource src(pk.dir, pk.p);
  auto runs = pk.runs();
  EXPECT_NO_THROW(src.check(runs, false, nullptr)) << "the frame checksums match";
  const std::string err = errorOf([&] { src.check(runs, true, nullptr); });
  EXPECT_TRUE(Has(err, "pages-7.img")) << err;
  EXPECT_TRUE(Has(err, "the image is corrupt")) << err;
}

TEST(PageSource, FramesThatDoNotFitTheFileAreRefused) {
  PackedPages pk;
  pk.p.pages_frames[1].offset += 1;
  EXPECT_TRUE(Has(errorOf([&] { PageSource(pk.dir, pk.p); }), "frame 1"));
  pk.p.pages_frames[1].offset -= 1;
  pk.p.pages_frames[1].raw_len = kMaxFrameRawBytes + 1;
  EXPECT_TRUE(Has(errorOf([&] { PageSource(pk.dir, pk.p); }), "frame 1"));
}

TEST(Compression, ParsesCodecAndLevel) {
  EXPECT_FALSE(parseCompression("").enabled());
  EXPECT_FALSE(parseCompression("none").enabled());
  EXPECT_EQ(parseCompression("zstd").text(), "zstd:1");
  EXPECT_EQ(parseCompression("zstd:7").text(), "zstd:7");
  EXPECT_EQ(parseCompression("zstd:-3").text(), "zstd:-3");
  EXPECT_TRUE(Has(errorOf([] { parseCompression("lz4"); }), "unknown codec 'lz4'"));
  EXPECT_TRUE(Has(errorOf([] { parseCompression("zstd:x"); }), "not a zstd level"));
  EXPECT_TRUE(Has(errorOf([] { parseCompression("zstd:0"); }), "not a zstd level"));
}

}  // namespace
}  // namespace ckpt::image
