// ImageStream: sendfile-free on purpose (stdout may be a pipe or a socket to
// ssh); big aligned reads and writes instead.
#include "core/image/ImageStream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "core/image/ImageFile.hpp"
#include "core/util/Error.hpp"
#include "core/util/UniqueFd.hpp"

namespace ckpt::image {
namespace {

constexpr char kMagic[] = "ckpt-image-stream 1\n";
constexpr size_t kMagicLen = sizeof kMagic - 1;
constexpr size_t kChunk = size_t{4} << 20;
constexpr size_t kMaxName = 255;

void writeAll(int fd, const void* data, size_t len, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    const ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE)
        throw Error(fmt::format("writing the image stream to {}: the reader went away", what));
      throwErrno("writing the image stream to " + what);
    }
    p += n;
    len -= size_t(n);
  }
}

// Reads exactly len bytes, or returns how many came before the end.
size_t readUpTo(int fd, void* data, size_t len, const std::string& what) {
  char* p = static_cast<char*>(data);
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::read(fd, p + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("reading the image stream from " + what);
    }
    if (n == 0) break;
    done += size_t(n);
  }
  return done;
}

template <class T>
void putInt(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(char((uint64_t(v) >> (8 * i)) & 0xff));
}

template <class T>
T getInt(const unsigned char* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t(p[i]) << (8 * i);
  return T(v);
}

bool isManifest(const std::string& name) {
  return name == "manifest.json" || name == "manifest.xxh3";
}

}  // namespace

void writeImageStream(const std::string& dir, int fd, const std::string& what) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file()) names.push_back(e.path().filename());
  // The manifest last: whoever reads the stream has every file it checks by then.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    return std::make_pair(isManifest(a), a) < std::make_pair(isManifest(b), b);
  });
  writeAll(fd, kMagic, kMagicLen, what);
  AlignedBuffer buf = alignedBuffer(kChunk);
  for (const std::string& name : names) {
    ImageFile file(dir, name);
    std::string head = "F";
    putInt<uint16_t>(head, uint16_t(name.size()));
    head += name;
    putInt<uint64_t>(head, file.size());
    writeAll(fd, head.data(), head.size(), what);
    for (uint64_t at = 0; at < file.size(); at += kChunk) {
      const size_t take = size_t(std::min<uint64_t>(kChunk, file.size() - at));
      file.readExact(buf.get(), take, at);
      writeAll(fd, buf.get(), take, what);
    }
  }
  std::string end = "E";
  putInt<uint64_t>(end, names.size());
  writeAll(fd, end.data(), end.size(), what);
}

void readImageStream(int fd, const std::string& dir, const std::string& what) {
  const auto fail = [&](const std::string& why) {
    throw Error(fmt::format("the image stream on {} {}; nothing was restored", what, why));
  };
  char magic[kMagicLen];
  const size_t got = readUpTo(fd, magic, kMagicLen, what);
  if (got == 0) fail("is empty (did the dump fail?)");
  if (got < kMagicLen || std::memcmp(magic, kMagic, kMagicLen) != 0)
    fail("is not an image stream (expected what `ckpt dump -o -` writes)");
  if (::mkdir(dir.c_str(), 0700) != 0) throwErrno("creating " + dir);
  AlignedBuffer buf = alignedBuffer(kChunk);
  uint64_t files = 0;
  for (;;) {
    unsigned char tag = 0;
    if (readUpTo(fd, &tag, 1, what) != 1)
      fail(fmt::format("ends after {} files, without its end record: it was cut short", files));
    if (tag == 'E') {
      unsigned char n[8];
      if (readUpTo(fd, n, 8, what) != 8) fail("ends inside its end record: it was cut short");
      if (getInt<uint64_t>(n) != files)
        fail(fmt::format("says it holds {} files but carried {}", getInt<uint64_t>(n), files));
      return;
    }
    if (tag != 'F')
      fail(fmt::format("has a record of unknown kind {:#x} after {} files", tag, files));
    unsigned char len[2];
    if (readUpTo(fd, len, 2, what) != 2) fail("ends inside a file record: it was cut short");
    const size_t nameLen = getInt<uint16_t>(len);
    std::string name(nameLen, '\0');
    if (nameLen == 0 || nameLen > kMaxName || readUpTo(fd, name.data(), nameLen, what) != nameLen)
      fail("ends inside a file name, or names no file: it was cut short or is corrupt");
    if (name == "." || name == ".." || name.find('/') != std::string::npos ||
        name.find('\0') != std::string::npos)
      fail(fmt::format("names a file '{}' that cannot be in an image", name));
    unsigned char sz[8];
    if (readUpTo(fd, sz, 8, what) != 8) fail(fmt::format("ends inside the header of {}", name));
    const uint64_t size = getInt<uint64_t>(sz);
    const std::string path = dir + "/" + name;
    UniqueFd out(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!out) {
      if (errno == EEXIST) fail(fmt::format("carries {} twice", name));
      throwErrno("creating " + path);
    }
    for (uint64_t at = 0; at < size;) {
      const size_t want = size_t(std::min<uint64_t>(kChunk, size - at));
      const size_t n = readUpTo(fd, buf.get(), want, what);
      writeAll(out.get(), buf.get(), n, path);
      at += n;
      if (n < want)
        fail(fmt::format("ends inside {} after {} of {} bytes: it was cut short", name, at, size));
    }
    ++files;
  }
}

}  // namespace ckpt::image
