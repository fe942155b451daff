// ImageWriter: the .partial directory, append-only data files, and the commit
// that makes an image durable before it gets its final name.
#include "core/image/ImageWriter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "core/image/Checksum.hpp"
#include "core/image/Manifest.hpp"
#include "core/util/Error.hpp"
#include "core/util/Fault.hpp"
#include "core/util/Log.hpp"

namespace ckpt::image {
namespace {

// write() moves at most this much per call anyway (MAX_RW_COUNT).
constexpr size_t kMaxWrite = size_t{1} << 30;

// Adds every byte written to `size`, also those before a failure, so that the
// bookkeeping matches the file; throws SysError naming the file.
void writeAll(int fd, const void* data, size_t len, const std::string& path, uint64_t& size) {
  const auto* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = ::write(fd, p, std::min(len, kMaxWrite));
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("write " + path);
    }
    // A regular file returns 0 only when nothing more fits.
    if (n == 0) throw SysError("write " + path, ENOSPC);
    p += n;
    len -= static_cast<size_t>(n);
    size += static_cast<uint64_t>(n);
  }
}

std::string stripTrailingSlashes(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string parentOf(const std::string& dir) {
  const auto slash = dir.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return dir.substr(0, slash);
}

bool isManifestName(const std::string& name) {
  return name == "manifest.json" || name == "manifest.xxh3";
}

}  // namespace

DataFile::Written DataFile::append(const void* data, size_t len) {
  if (!fd_) throw Error(fmt::format("write {}: the image is already committed", path_));
  const Written w{size_, xxh3(data, len)};
  writeAll(fd_.get(), data, len, path_, size_);
  return w;
}

uint64_t DataFile::write(const void* data, size_t len) {
  if (!fd_) throw Error(fmt::format("write {}: the image is already committed", path_));
  const uint64_t at = size_;
  writeAll(fd_.get(), data, len, path_, size_);
  return at;
}

ImageWriter::ImageWriter(const std::string& dir) : dir_(stripTrailingSlashes(dir)) {
  if (dir_.empty() || dir_ == "/" || dir_ == "." || dir_ == "..")
    throw Error(fmt::format("'{}' cannot be an image directory; give a new directory name", dir));
  struct stat st;
  if (::lstat(dir_.c_str(), &st) == 0)
    throw Error(
        fmt::format("image directory {} already exists; choose another -o or remove it", dir_));
  if (errno != ENOENT) throwErrno("stat " + dir_);

  partial_ = dir_ + ".partial";
  // A .partial is what a killed dump leaves; nothing else uses that name.
  std::error_code ec;
  std::filesystem::remove_all(partial_, ec);
  if (ec) throw SysError("remove stale " + partial_, ec.value());
  if (::mkdir(partial_.c_str(), 0700) != 0) throwErrno("create " + partial_);
  dirFd_.reset(::open(partial_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd_) {
    const int err = errno;
    ::rmdir(partial_.c_str());
    throw SysError("open " + partial_, err);
  }
  log::debug("image: writing {}", partial_);
}

ImageWriter::~ImageWriter() {
  if (committed_) return;
  files_.clear();
  dirFd_.reset();
  std::error_code ec;
  std::filesystem::remove_all(partial_, ec);
  if (ec) log::warn("cannot remove the unfinished image {}: {}", partial_, ec.message());
}

void ImageWriter::checkName(const std::string& name) const {
  if (committed_) throw Error(fmt::format("image {}: already committed", dir_));
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos || isManifestName(name))
    throw Error(fmt::format("image {}: '{}' cannot be a file name in an image", dir_, name));
}

UniqueFd ImageWriter::createFile(const std::string& name) {
  UniqueFd fd(::openat(dirFd_.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throwErrno("create " + partial_ + "/" + name);
  return fd;
}

DataFile& ImageWriter::dataFile(const std::string& name) {
  checkName(name);
  auto it = files_.find(name);
  if (it != files_.end()) return *it->second;
  UniqueFd fd = createFile(name);
  auto file = std::unique_ptr<DataFile>(new DataFile(name, partial_ + "/" + name, std::move(fd)));
  return *files_.emplace(name, std::move(file)).first->second;
}

uint64_t ImageWriter::writeBlob(const std::string& name, const void* data, size_t len) {
  checkName(name);
  if (files_.count(name)) throw Error(fmt::format("image {}: {} written twice", dir_, name));
  UniqueFd fd = createFile(name);
  uint64_t size = 0;
  writeAll(fd.get(), data, len, partial_ + "/" + name, size);
  return xxh3(data, len);
}

void ImageWriter::commit(const Image& image) {
  if (committed_) throw Error(fmt::format("image {}: already committed", dir_));
  const std::string text = writeManifest(image);
  {
    UniqueFd fd = createFile("manifest.json");
    uint64_t size = 0;
    writeAll(fd.get(), text.data(), text.size(), partial_ + "/manifest.json", size);
  }
  {
    const std::string line =
        fmt::format("{} {}\n", xxh3Hex(xxh3(text.data(), text.size())), text.size());
    UniqueFd fd = createFile("manifest.xxh3");
    uint64_t size = 0;
    writeAll(fd.get(), line.data(), line.size(), partial_ + "/manifest.xxh3", size);
  }

  // Durable before visible: a crash after the rename must not find an image
  // whose pages are still only in the page cache. One syncfs() covers every
  // file of the image (pages, blobs, manifests, the dump's log) and the
  // directory with a single journal commit, where an fsync per file costs
  // one each.
  for (auto& [name, file] : files_) file->fd_.reset();
  if (::syncfs(dirFd_.get()) != 0) throwErrno("syncfs " + partial_);
  fault::point("dump.rename");

  // RENAME_NOREPLACE: a directory that appeared since the constructor looked
  // (an empty one would be silently replaced by rename()) is never clobbered.
  if (::renameat2(AT_FDCWD, partial_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL) {
      // File systems without RENAME_NOREPLACE (NFS): check, then rename.
      struct stat st;
      if (::lstat(dir_.c_str(), &st) == 0) {
        err = EEXIST;
      } else if (::rename(partial_.c_str(), dir_.c_str()) == 0) {
        err = 0;
      } else {
        err = errno;
      }
    }
    if (err == EEXIST || err == ENOTEMPTY)
      throw Error(
          fmt::format("image directory {} already exists; choose another -o or remove it", dir_));
    if (err != 0) throw SysError("rename " + partial_ + " to " + dir_, err);
  }

  const std::string parent = parentOf(dir_);
  UniqueFd parentFd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parentFd || ::fsync(parentFd.get()) != 0) {
    const int err = errno;
    // Not durable means not done: put the name back so the destructor
    // removes it, as for any other failed dump.
    if (::rename(dir_.c_str(), partial_.c_str()) != 0)
      log::warn("cannot rename {} back to {}: the image may be incomplete", dir_, partial_);
    throw SysError("fsync " + parent, err);
  }
  committed_ = true;
  dirFd_.reset();
  log::info("image: wrote {}", dir_);
}

}  // namespace ckpt::image
