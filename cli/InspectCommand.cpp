// `ckpt inspect DIR [--json]`: checks an image (manifest and every checksum)
// and shows what it holds: the process tree, memory by kind, open files and
// the size on disk. --json gives the same summary for scripts.
#include <fcntl.h>
#include <sys/stat.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "cli/Commands.hpp"
#include "cli/DiskUsage.hpp"
#include "cli/Format.hpp"
#include "core/image/Checksum.hpp"
#include "core/image/ImageChain.hpp"
#include "core/image/ImageReader.hpp"
#include "core/image/Manifest.hpp"
#include "core/image/Model.hpp"
#include "core/util/Error.hpp"
#include "core/util/WorkerPool.hpp"

namespace ckpt::cli {
namespace {

using image::FileDesc;
using image::Image;
using image::Process;
using image::VmaKind;

constexpr std::array<VmaKind, 7> kVmaKinds{VmaKind::Anonymous, VmaKind::File, VmaKind::SharedAnon,
                                           VmaKind::Vdso,      VmaKind::Vvar, VmaKind::VvarVclock,
                                           VmaKind::Vsyscall};

struct MemoryByKind {
  uint64_t mappings = 0;
  uint64_t mapped = 0;  // bytes of address space
  uint64_t stored = 0;  // bytes in the page file
  uint64_t zero_pages = 0;
};

// Page bytes of the whole image: stored here (before and after compression)
// and left in parent images.
struct PageTotals {
  uint64_t raw = 0;     // uncompressed bytes of the pages stored in this image
  uint64_t stored = 0;  // what their page files take
  uint64_t inParents = 0;
  double ratio() const { return stored ? double(raw) / double(stored) : 1.0; }
};

PageTotals pageTotals(const Image& img) {
  PageTotals t;
  for (const auto& p : img.processes) {
    uint64_t own = 0;
    for (const auto& v : p.vmas)
      for (const auto& r : v.runs) {
        if (r.zero) continue;
        (r.image == 0 ? own : t.inParents) += r.npages * image::kPageSize;
      }
    if (p.pages_codec.empty()) {
      t.raw += own;
      t.stored += own;
    } else {
      for (const auto& f : p.pages_frames) {
        t.raw += f.raw_len;
        t.stored += f.len;
      }
    }
  }
  return t;
}

std::map<VmaKind, MemoryByKind> memoryOf(const Process& p) {
  std::map<VmaKind, MemoryByKind> m;
  for (const auto& vma : p.vmas) {
    MemoryByKind& k = m[vma.kind];
    ++k.mappings;
    k.mapped += vma.end - vma.start;
    for (const auto& run : vma.runs) {
      if (run.zero)
        k.zero_pages += run.npages;
      else if (run.image == 0)
        k.stored += run.npages * image::kPageSize;
    }
  }
  return m;
}

// Parents before children, each child under its parent; processes whose
// parent is not in the image (the root) start a tree. Iterative, and each
// process once, so a damaged tree (cycles, repeated pids) cannot hang it.
std::vector<std::pair<const Process*, int>> treeOrder(const Image& img) {
  std::map<pid_t, std::vector<size_t>> children;
  std::set<pid_t> pids;
  for (const auto& p : img.processes) pids.insert(p.pid);
  for (size_t i = 0; i < img.processes.size(); ++i) children[img.processes[i].ppid].push_back(i);

  std::vector<std::pair<const Process*, int>> out;
  std::vector<bool> done(img.processes.size());
  const auto walk = [&](size_t start) {
    std::vector<std::pair<size_t, int>> stack{{start, 0}};
    while (!stack.empty()) {
      const auto [i, depth] = stack.back();
      stack.pop_back();
      if (done[i]) continue;
      done[i] = true;
      out.emplace_back(&img.processes[i], depth);
      const pid_t pid = img.processes[i].pid;
      auto it = children.find(pid);
      if (it == children.end() || pid == img.processes[i].ppid) continue;
      for (auto c = it->second.rbegin(); c != it->second.rend(); ++c)
        if (!done[*c]) stack.emplace_back(*c, depth + 1);
    }
  };
  for (size_t i = 0; i < img.processes.size(); ++i)
    if (!pids.count(img.processes[i].ppid) || img.processes[i].ppid == img.processes[i].pid)
      walk(i);
  for (size_t i = 0; i < img.processes.size(); ++i) walk(i);
  return out;
}

// Names from the program (comm, paths) may hold any byte; keep the output
// one item per line.
std::string printable(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += ch;
  }
  return out;
}

const char* plural(size_t n, const char* one, const char* many) {
  return n == 1 ? one : many;
}

// What an open file is, for people: pipes have no path, so name them as
// /proc does and say which end this is and whether the other end is outside.
std::string describeFile(const FileDesc& f, const std::map<int, const image::Pipe*>& pipes) {
  if (f.kind != image::FileKind::Pipe && f.kind != image::FileKind::Fifo) return printable(f.path);
  auto it = pipes.find(f.pipe);
  std::string s = f.path.empty() && it != pipes.end() ? fmt::format("pipe:[{}]", it->second->ino)
                                                      : printable(f.path);
  const int mode = f.flags & O_ACCMODE;
  s += mode == O_RDONLY ? " (read end" : mode == O_WRONLY ? " (write end" : " (read-write";
  if (it != pipes.end()) {
    const image::Pipe& p = *it->second;
    if (mode == O_RDONLY && p.writer_outside) s += ", writer outside the tree";
    if (mode == O_WRONLY && p.reader_outside) s += ", reader outside the tree";
    if (p.data_size) s += fmt::format(", {} queued", humanBytes(p.data_size));
  }
  return s + ")";
}

void printText(const std::string& dir, const Image& img, const DiskUsage& du,
               const std::map<int, const FileDesc*>& files,
               const std::map<int, const image::Pipe*>& pipes) {
  const auto order = treeOrder(img);
  size_t threads = 0;
  for (const auto& p : img.processes) threads += p.threads.size();

  fmt::print("image {}\n", printable(dir));
  fmt::print("  format version {}, written by ckpt {}\n", img.format_version,
             printable(img.ckpt_version));
  fmt::print("  kernel {}, host {}\n", printable(img.kernel), printable(img.hostname));
  fmt::print("  created {}\n", localTime(img.created_unix));
  fmt::print("  root pid {}: {} {}, {} {}, {} open {}, {} {}\n", img.root_pid, img.processes.size(),
             plural(img.processes.size(), "process", "processes"), threads,
             plural(threads, "thread", "threads"), img.files.size(),
             plural(img.files.size(), "file", "files"), img.pipes.size(),
             plural(img.pipes.size(), "pipe", "pipes"));
  fmt::print("  size {} in {} {} ({} on disk); checksums verified\n", humanBytes(du.bytes),
             du.files, plural(du.files, "file", "files"), humanBytes(du.disk));
  const PageTotals pt = pageTotals(img);
  if (img.compression.empty())
    fmt::print("  pages: {} stored, not compressed\n", humanBytes(pt.raw));
  else
    fmt::print("  pages: {} stored, compressed with {} to {} (ratio {:.2f})\n", humanBytes(pt.raw),
               printable(img.compression), humanBytes(pt.stored), pt.ratio());
  for (size_t i = 0; i < img.parents.size(); ++i)
    fmt::print("  {} {} (verified){}\n", i == 0 ? "parent" : "  then",
               printable(img.parents[i].path),
               i == 0 ? fmt::format(": {} of pages unchanged since, read from there",
                                    humanBytes(pt.inParents))
                      : "");
  for (const auto& a : img.attachments)
    fmt::print("  {} stored ({}, {}){}\n", a.name, a.file, humanBytes(a.size),
               a.name == "thumbnail" ? "; `ckpt inspect DIR --thumbnail FILE` writes it out" : "");

  fmt::print("\nprocesses\n");
  for (const auto& [p, depth] : order) {
    fmt::print("  {:{}}{} {} ({} {}){}\n", "", depth * 2, p->pid, printable(p->comm),
               p->threads.size(), plural(p->threads.size(), "thread", "threads"),
               p->zombie    ? " zombie"
               : p->stopped ? " stopped"
                            : "");
  }
  if (!img.hooks.empty()) {
    fmt::print("\nhooks (told of the dump, and of the restart after restore)\n");
    for (const auto& h : img.hooks) fmt::print("  {} {}\n", h.pid, printable(h.name));
  }
  if (!img.objects.empty()) {
    fmt::print("\nshared memory objects (saved once, shared again after restore)\n");
    for (const auto& o : img.objects) {
      uint64_t stored = 0;
      for (const auto& r : o.runs)
        if (!r.zero) stored += r.npages * image::kPageSize;
      fmt::print("  {:<12} {:>11} {:>11} stored  {}\n", image::vmaKindName(o.kind),
                 humanBytes(o.size), humanBytes(stored),
                 o.kind == image::VmaKind::Sysv
                     ? fmt::format("shmid {} key {:#x}", o.sysv_id, uint32_t(o.sysv_key))
                     : printable(o.name));
    }
  }

  if (!img.sysv_sems.empty() || !img.sysv_msgs.empty()) {
    fmt::print("\nSysV semaphores and message queues (same ids after restore)\n");
    for (const auto& s : img.sysv_sems)
      fmt::print("  semid {} key {:#x} mode {:o}: {} {} ({})\n", s.id, uint32_t(s.key), s.mode,
                 s.values.size(), plural(s.values.size(), "semaphore", "semaphores"),
                 fmt::join(s.values, " "));
    for (const auto& q : img.sysv_msgs)
      fmt::print("  msqid {} key {:#x} mode {:o}: {} {}, {}\n", q.id, uint32_t(q.key), q.mode,
                 q.messages.size(), plural(q.messages.size(), "message", "messages"),
                 humanBytes(q.data_size));
  }
  if (!img.locks.empty()) {
    fmt::print("\nfile locks (taken again at restore)\n");
    for (const auto& l : img.locks) {
      std::string range = l.kind == image::LockKind::Flock ? "whole file"
                          : l.len ? fmt::format("bytes {}-{}", l.start, l.start + l.len - 1)
                                  : fmt::format("bytes {}-end", l.start);
      fmt::print("  {} fd {}: {} {} lock, {}\n", l.pid, l.fd, image::lockKindName(l.kind),
                 l.write ? "write" : "read", range);
    }
  }

  fmt::print("\nmemory\n");
  for (const auto& [p, depth] : order) {
    if (p->vmas.empty()) continue;
    fmt::print("  {} {}\n", p->pid, printable(p->comm));
    fmt::print("    {:<12} {:>8} {:>11} {:>11} {:>11}\n", "kind", "mappings", "mapped", "stored",
               "zero pages");
    const auto mem = memoryOf(*p);
    for (const VmaKind k : kVmaKinds) {
      auto it = mem.find(k);
      if (it == mem.end()) continue;
      const MemoryByKind& m = it->second;
      fmt::print("    {:<12} {:>8} {:>11} {:>11} {:>11}\n", image::vmaKindName(k), m.mappings,
                 humanBytes(m.mapped), humanBytes(m.stored), m.zero_pages);
    }
  }

  fmt::print("\nfile descriptors\n");
  for (const auto& [p, depth] : order) {
    if (p->fds.empty()) continue;
    fmt::print("  {} {}\n", p->pid, printable(p->comm));
    for (const auto& fd : p->fds) {
      auto it = files.find(fd.file);
      if (it == files.end()) {
        fmt::print("    {:>4}  ?\n", fd.fd);
        continue;
      }
      const FileDesc& f = *it->second;
      fmt::print("    {:>4}  {:<11} {}\n", fd.fd, image::fileKindName(f.kind),
                 describeFile(f, pipes));
    }
  }
}

void printJson(const std::string& dir, const Image& img, const DiskUsage& du,
               const std::map<int, const FileDesc*>& files,
               const std::map<int, const image::Pipe*>& pipes) {
  using nlohmann::ordered_json;
  ordered_json out;
  out["image"] = dir;
  out["format_version"] = img.format_version;
  out["ckpt_version"] = img.ckpt_version;
  out["kernel"] = img.kernel;
  out["hostname"] = img.hostname;
  out["created_unix"] = img.created_unix;
  out["root_pid"] = img.root_pid;
  out["size_bytes"] = du.bytes;
  out["disk_bytes"] = du.disk;
  nlohmann::json attachments = nlohmann::json::array();
  for (const auto& a : img.attachments)
    attachments.push_back({{"name", a.name}, {"file", a.file}, {"size", a.size}});
  out["attachments"] = std::move(attachments);
  out["files_in_image"] = du.files;
  out["verified"] = true;
  const PageTotals pt = pageTotals(img);
  out["compression"] =
      img.compression.empty() ? ordered_json(nullptr) : ordered_json(img.compression);
  out["pages_bytes"] = pt.raw;
  out["pages_stored_bytes"] = pt.stored;
  out["compression_ratio"] = pt.ratio();
  out["pages_in_parents_bytes"] = pt.inParents;
  ordered_json parents = ordered_json::array();
  for (const auto& p : img.parents)
    parents.push_back({{"path", p.path}, {"manifest_xxh3", image::xxh3Hex(p.manifest_xxh3)}});
  out["parents"] = std::move(parents);

  uint64_t threads = 0, mapped = 0, stored = 0, zero = 0;
  ordered_json procs = ordered_json::array();
  for (const auto& [p, depth] : treeOrder(img)) {
    threads += p->threads.size();
    ordered_json jp;
    jp["pid"] = p->pid;
    jp["ppid"] = p->ppid;
    jp["depth"] = depth;
    jp["comm"] = p->comm;
    jp["threads"] = p->threads.size();
    jp["zombie"] = p->zombie;
    jp["stopped"] = p->stopped;
    ordered_json mem = ordered_json::object();
    for (const auto& [kind, m] : memoryOf(*p)) {
      mem[image::vmaKindName(kind)] = {{"mappings", m.mappings},
                                       {"mapped_bytes", m.mapped},
                                       {"stored_bytes", m.stored},
                                       {"zero_pages", m.zero_pages}};
      mapped += m.mapped;
      stored += m.stored;
      zero += m.zero_pages;
    }
    jp["memory"] = std::move(mem);
    ordered_json fds = ordered_json::array();
    for (const auto& fd : p->fds) {
      ordered_json jf;
      jf["fd"] = fd.fd;
      auto it = files.find(fd.file);
      jf["kind"] = it == files.end() ? "unknown" : image::fileKindName(it->second->kind);
      jf["path"] = it == files.end() ? std::string() : it->second->path;
      jf["cloexec"] = fd.cloexec;
      if (it != files.end()) {
        auto pit = pipes.find(it->second->pipe);
        if (pit != pipes.end()) {
          jf["pipe_ino"] = pit->second->ino;
          jf["pipe_queued_bytes"] = pit->second->data_size;
        }
      }
      fds.push_back(std::move(jf));
    }
    jp["fds"] = std::move(fds);
    procs.push_back(std::move(jp));
  }
  out["totals"] = {{"processes", img.processes.size()},
                   {"threads", threads},
                   {"open_files", img.files.size()},
                   {"pipes", img.pipes.size()},
                   {"mapped_bytes", mapped},
                   {"stored_bytes", stored},
                   {"zero_pages", zero}};
  out["processes"] = std::move(procs);
  ordered_json hooks = ordered_json::array();
  for (const auto& h : img.hooks) hooks.push_back({{"pid", h.pid}, {"name", h.name}});
  out["hooks"] = std::move(hooks);
  ordered_json sems = ordered_json::array();
  for (const auto& s : img.sysv_sems)
    sems.push_back({{"semid", s.id}, {"key", s.key}, {"mode", s.mode}, {"values", s.values}});
  out["sysv_semaphores"] = std::move(sems);
  ordered_json queues = ordered_json::array();
  for (const auto& q : img.sysv_msgs)
    queues.push_back({{"msqid", q.id},
                      {"key", q.key},
                      {"mode", q.mode},
                      {"messages", q.messages.size()},
                      {"bytes", q.data_size}});
  out["sysv_message_queues"] = std::move(queues);
  ordered_json locks = ordered_json::array();
  for (const auto& l : img.locks)
    locks.push_back({{"pid", l.pid},
                     {"fd", l.fd},
                     {"kind", image::lockKindName(l.kind)},
                     {"write", l.write},
                     {"start", l.start},
                     {"len", l.len}});
  out["locks"] = std::move(locks);
  // Paths and comm are bytes, not always UTF-8; a summary may show U+FFFD.
  const std::string text = out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

// Copies the (verified) thumbnail attachment to `out`.
void writeThumbnail(const std::string& dir, const Image& img, const std::string& out) {
  const image::Attachment* a = nullptr;
  for (const auto& at : img.attachments)
    if (at.name == "thumbnail") a = &at;
  if (!a)
    throw Error(
        fmt::format("image {} holds no thumbnail (only dumps of a VNC desktop, `ckpt vnc "
                    "run`, store one)",
                    dir));
  std::error_code ec;
  std::filesystem::copy_file(dir + "/" + a->file, out,
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec)
    throw Error(
        fmt::format("inspect: cannot write the thumbnail of {} to {}: {}", dir, out, ec.message()));
}

}  // namespace

int inspectCommand(const std::string& dir, bool json, const std::string& thumbnail) {
  const Image img = image::readImage(dir);
  image::verifyImage(dir, img);
  image::ImageChain chain(dir, img);
  WorkerPool pool;
  chain.verifyParentRuns(/*deep=*/true, &pool);
  if (!thumbnail.empty()) {
    writeThumbnail(dir, img, thumbnail);
    return 0;
  }
  const DiskUsage du = diskUsage(dir);
  std::map<int, const FileDesc*> files;
  for (const auto& f : img.files) files.emplace(f.id, &f);
  std::map<int, const image::Pipe*> pipes;
  for (const auto& p : img.pipes) pipes.emplace(p.id, &p);
  if (json)
    printJson(dir, img, du, files, pipes);
  else
    printText(dir, img, du, files, pipes);
  return 0;
}

}  // namespace ckpt::cli
