// Reading and verifying an image: nothing here trusts the bytes it reads, so
// every size and offset from the manifest is checked before it is used.
#include "core/image/ImageReader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <new>
#include <set>
#include <string_view>
#include <vector>

#include "core/image/Checksum.hpp"
#include "core/image/ImageFile.hpp"
#include "core/image/Manifest.hpp"
#include "core/image/PageSource.hpp"
#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::image {
namespace {

void readManifestChecksum(const std::string& dir, uint64_t& hash, uint64_t& length) {
  ImageFile file(dir, "manifest.xxh3");
  char buf[128];
  const size_t n = file.readAt(buf, sizeof buf, 0);
  const std::string text(buf, n);
  // "<16 hex digits> <length>\n"
  const auto malformed = [&]() -> void {
    file.fail("malformed (expected 16 hex digits, a space and the length of manifest.json)");
  };
  if (file.size() > sizeof buf || text.size() < 18 || text[16] != ' ') malformed();
  hash = 0;
  for (size_t i = 0; i < 16; ++i) {
    const char c = text[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) malformed();
    hash = (hash << 4) | static_cast<uint64_t>(v);
  }
  std::string rest = text.substr(17);
  if (!rest.empty() && rest.back() == '\n') rest.pop_back();
  if (rest.empty() || rest.size() > 19) malformed();
  length = 0;
  for (const char c : rest) {
    if (c < '0' || c > '9') malformed();
    length = length * 10 + static_cast<uint64_t>(c - '0');
  }
}

}  // namespace

Image readImage(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) {
      struct stat pst;
      if (::stat((dir + ".partial").c_str(), &pst) == 0)
        throw Error(
            fmt::format("image {} does not exist ({}.partial is what a dump that did not "
                        "finish leaves)",
                        dir, dir));
      throw Error(fmt::format("image {} does not exist", dir));
    }
    throwErrno("image " + dir);
  }
  if (!S_ISDIR(st.st_mode)) throw Error(fmt::format("image {} is not a directory", dir));
  // Even with a complete manifest (a dump killed right before its rename), a
  // .partial was never declared complete: never take it for an image.
  std::string_view name(dir);
  while (name.size() > 1 && name.back() == '/') name.remove_suffix(1);
  if (name.ends_with(".partial"))
    throw Error(
        fmt::format("{} is what a dump that did not finish leaves, not an image; dump again", dir));

  uint64_t expectedHash = 0, expectedLength = 0;
  readManifestChecksum(dir, expectedHash, expectedLength);

  ImageFile file(dir, "manifest.json");
  if (file.size() < expectedLength) file.failTruncated(expectedLength);
  if (file.size() > expectedLength)
    file.fail(fmt::format("expected {} bytes, file has {}: the image is corrupt", expectedLength,
                          file.size()));
  std::string text(expectedLength, '\0');
  if (file.readAt(text.data(), text.size(), 0) != text.size()) file.failTruncated(expectedLength);
  if (xxh3(text.data(), text.size()) != expectedHash)
    file.fail("checksum mismatch: the image is corrupt");

  try {
    const nlohmann::json j = parseManifestJson(text);
    const int version = manifestFormatVersion(j);
    if (version < kOldestFormatVersion || version > kFormatVersion)
      throw Error(fmt::format("image {} has format version {}, this ckpt reads versions {} to {}",
                              dir, version, kOldestFormatVersion, kFormatVersion));
    return imageFromManifest(j);
  } catch (const Error& e) {
    const std::string what = e.what();
    if (what.rfind("image ", 0) == 0) throw;
    throw Error(fmt::format("image {}: {}", dir, what));
  }
}

void verifyPageRuns(const std::string& dir, const Image& image, bool deep,
                    const LaterCheck& checkedLater) {
  std::map<pid_t, std::vector<Extent>> pageFiles;
  for (const Process& p : image.processes)
    for (const Vma& vma : p.vmas) {
      if (checkedLater && checkedLater(p, vma)) continue;
      for (const PageRun& run : vma.runs) {
        if (run.zero || run.image != 0) continue;
        pageFiles[p.pid].push_back(Extent{run.offset, run.npages * kPageSize, run.xxh3,
                                          fmt::format("run at {:#x} ({} page{})", run.addr,
                                                      run.npages, run.npages == 1 ? "" : "s")});
      }
    }
  if (pageFiles.empty()) return;
  WorkerPool pool;
  for (const Process& p : image.processes)
    if (auto it = pageFiles.find(p.pid); it != pageFiles.end())
      PageSource(dir, p).check(it->second, deep, &pool);
}

void verifyImage(const std::string& dir, const Image& image, bool deep,
                 const LaterCheck& checkedLater) {
  const auto corrupt = [&](const std::string& what) {
    throw Error(fmt::format("image {}: {}: the image is corrupt", dir, what));
  };

  // Page runs, by process: where they lie here, their checksums below.
  std::map<pid_t, const Process*> byPid;
  for (const Process& p : image.processes) {
    if (!byPid.emplace(p.pid, &p).second) corrupt(fmt::format("pid {} given twice", p.pid));
    bool hasData = false;
    for (const Vma& vma : p.vmas) {
      if (vma.start >= vma.end || vma.start % kPageSize != 0 || vma.end % kPageSize != 0)
        corrupt(fmt::format("pid {}: mapping {:#x}-{:#x} is not a page-aligned range", p.pid,
                            vma.start, vma.end));
      for (const PageRun& run : vma.runs) {
        const std::string what = fmt::format("run at {:#x} ({} page{})", run.addr, run.npages,
                                             run.npages == 1 ? "" : "s");
        if (run.npages > std::numeric_limits<uint64_t>::max() / kPageSize)
          corrupt(fmt::format("pid {}: {} is too large", p.pid, what));
        const uint64_t len = run.npages * kPageSize;
        if (run.addr % kPageSize != 0 || run.addr < vma.start || run.addr > vma.end ||
            vma.end - run.addr < len)
          corrupt(fmt::format("pid {}: {} lies outside its mapping {:#x}-{:#x}", p.pid, what,
                              vma.start, vma.end));
        if (run.zero) continue;
        if (run.offset > std::numeric_limits<uint64_t>::max() - len)
          corrupt(fmt::format("pid {}: {} has an impossible offset {}", p.pid, what, run.offset));
        if (run.image > image.parents.size())
          corrupt(fmt::format("pid {}: {} lies in parent {}, but the image names {} parents", p.pid,
                              what, run.image, image.parents.size()));
        if (run.image != 0) continue;  // checked with the parent (ImageChain)
        hasData = true;
      }
    }
    if (hasData && p.pages_file.empty())
      corrupt(fmt::format("pid {} has saved pages but no page file", p.pid));
  }
  verifyPageRuns(dir, image, deep, checkedLater);

  // Whole small files: pipe contents, message queues, deleted files.
  auto checkBlob = [&](const std::string& what, const std::string& name, uint64_t size,
                       uint64_t xxh3) {
    if (name.empty()) {
      if (size != 0) corrupt(fmt::format("{} holds {} bytes but has no data file", what, size));
      return;
    }
    ImageFile file(dir, name);
    if (file.size() > size)
      file.fail(
          fmt::format("expected {} bytes, file has {}: the image is corrupt", size, file.size()));
    std::vector<Extent> one{{0, size, xxh3, "content"}};
    checkExtents(file, one);
  };
  std::map<int, const Pipe*> pipes;
  for (const Pipe& pipe : image.pipes) {
    if (!pipes.emplace(pipe.id, &pipe).second) corrupt(fmt::format("pipe {} given twice", pipe.id));
    checkBlob(fmt::format("pipe {}", pipe.id), pipe.data_file, pipe.data_size, pipe.data_xxh3);
  }
  for (const SysvMsgQueue& q : image.sysv_msgs) {
    uint64_t total = 0;
    for (const SysvMessage& m : q.messages) total += m.size;
    if (total != q.data_size)
      corrupt(fmt::format("message queue {}: its messages hold {} bytes, its data {}", q.id, total,
                          q.data_size));
    checkBlob(fmt::format("message queue {}", q.id), q.data_file, q.data_size, q.data_xxh3);
  }
  std::set<std::string> attachments;
  for (const Attachment& a : image.attachments) {
    if (!attachments.insert(a.name).second)
      corrupt(fmt::format("attachment {} given twice", a.name));
    if (a.file.empty()) corrupt(fmt::format("attachment {} has no file", a.name));
    checkBlob(fmt::format("attachment {}", a.name), a.file, a.size, a.xxh3);
  }
  std::set<int> files;
  for (const FileDesc& f : image.files) {
    if (!files.insert(f.id).second) corrupt(fmt::format("open file {} given twice", f.id));
    if (f.pipe >= 0 && !pipes.count(f.pipe))
      corrupt(fmt::format("open file {} ({}) refers to pipe {}, which the image does not have",
                          f.id, f.path, f.pipe));
    if (f.content_file.empty()) continue;
    ImageFile file(dir, f.content_file);
    if (f.size > 0 && file.size() < static_cast<uint64_t>(f.size)) file.failTruncated(f.size);
    std::vector<Extent> one{{0, file.size(), f.content_xxh3, "content"}};
    checkExtents(file, one);
  }
  // Shared memory objects: runs inside the object and inside its data file.
  std::set<int> objects;
  for (const SharedObject& o : image.objects) {
    if (!objects.insert(o.id).second) corrupt(fmt::format("memory object {} given twice", o.id));
    std::vector<Extent> extents;
    for (const PageRun& run : o.runs) {
      const std::string what =
          fmt::format("object {} run at offset {} ({} pages)", o.id, run.addr, run.npages);
      if (run.npages > std::numeric_limits<uint64_t>::max() / kPageSize)
        corrupt(what + " is too large");
      const uint64_t len = run.npages * kPageSize;
      if (run.addr % kPageSize != 0 || run.addr > o.size + kPageSize ||
          run.addr + len > ((o.size + kPageSize - 1) & ~(kPageSize - 1)))
        corrupt(fmt::format("{} lies outside the object ({} bytes)", what, o.size));
      if (run.zero) continue;
      if (run.offset > std::numeric_limits<uint64_t>::max() - len)
        corrupt(fmt::format("{} has an impossible offset {}", what, run.offset));
      if (run.image != 0) corrupt(what + " lies in a parent image, which objects never do");
      extents.push_back(Extent{run.offset, len, run.xxh3, what});
    }
    if (extents.empty()) continue;
    if (o.data_file.empty())
      corrupt(fmt::format("memory object {} has data but no data file", o.id));
    ImageFile file(dir, o.data_file);
    checkExtents(file, extents);
  }
  for (const Process& p : image.processes)
    for (const Vma& vma : p.vmas)
      if (vma.object >= 0 && !objects.count(vma.object))
        corrupt(
            fmt::format("pid {}: mapping {:#x} refers to memory object {}, which the image "
                        "does not have",
                        p.pid, vma.start, vma.object));
  for (const Process& p : image.processes)
    for (const FdEntry& fd : p.fds)
      if (!files.count(fd.file))
        corrupt(fmt::format("pid {} fd {} refers to open file {}, which the image does not have",
                            p.pid, fd.fd, fd.file));
}

}  // namespace ckpt::image
