// Writes an image directory. Everything goes into `<dir>.partial`, which
// commit() makes durable and renames to `<dir>`; an ImageWriter destroyed
// without commit() removes it, so a failed dump leaves no image behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "core/image/Model.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::image {

// An append-only file of the image (page files, large blobs).
class DataFile {
 public:
  struct Written {
    uint64_t offset;  // where the bytes start in the file
    uint64_t xxh3;    // XXH3-64 of the bytes
  };

  DataFile(const DataFile&) = delete;
  DataFile& operator=(const DataFile&) = delete;

  // Writes len bytes at the end (looping over short writes); throws SysError
  // naming the file on failure, ENOSPC included. Page files need page-aligned
  // lengths so that every run starts page-aligned; the caller sees to that.
  Written append(const void* data, size_t len);
  // The same without the checksum, for callers that checksum the bytes their
  // own way (page runs); returns the offset.
  uint64_t write(const void* data, size_t len);

  const std::string& name() const { return name_; }  // inside the image
  const std::string& path() const { return path_; }  // full path, under .partial
  uint64_t size() const { return size_; }            // bytes appended so far
  int fd() const { return fd_.get(); }               // open for writing, O_CLOEXEC; -1 after commit

 private:
  friend class ImageWriter;
  DataFile(std::string name, std::string path, UniqueFd fd)
      : name_(std::move(name)), path_(std::move(path)), fd_(std::move(fd)) {}

  std::string name_;
  std::string path_;
  UniqueFd fd_;
  uint64_t size_ = 0;
};

class ImageWriter {
 public:
  // Refuses when dir exists; removes a stale `<dir>.partial` and creates a
  // new one (mode 0700: an image holds the program's memory).
  explicit ImageWriter(const std::string& dir);
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;

  // The file `name` of the image (mode 0600), created on first use. A name is
  // one path component and not one of the manifest files.
  DataFile& dataFile(const std::string& name);

  // Writes a whole small file (a pipe's bytes, a deleted file's content)
  // and returns its XXH3-64.
  uint64_t writeBlob(const std::string& name, const void* data, size_t len);

  // Writes manifest.json and manifest.xxh3, fsyncs every file and the
  // directory, renames `<dir>.partial` to `<dir>` and fsyncs the parent.
  // After this the image is complete and the destructor leaves it alone.
  void commit(const Image& image);

  const std::string& dir() const { return dir_; }             // the final name
  const std::string& partialDir() const { return partial_; }  // where files are now
  bool committed() const { return committed_; }

 private:
  void checkName(const std::string& name) const;
  UniqueFd createFile(const std::string& name);

  std::string dir_;
  std::string partial_;
  UniqueFd dirFd_;
  std::map<std::string, std::unique_ptr<DataFile>> files_;
  bool committed_ = false;
};

}  // namespace ckpt::image
