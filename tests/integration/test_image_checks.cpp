// Images that must not be restored here, refused with one line before
// anything starts: one from a kernel whose vDSO differs, one whose mapped
// file was changed in place since the dump, and one with a flipped byte in
// its page data (checked while the tree is being rebuilt, still before any
// of it runs). `ckpt check --image` says the same without restoring. With
// --lazy, that page is checked as it is copied: the tree, running by then,
// is killed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "CkptTest.hpp"
#include "ManifestEdit.hpp"
#include "Programs.hpp"

namespace ckpt::test {
namespace {

class ImageChecks : public CkptTest {
 protected:
  // `restore --detach` and `check --image` must both fail with one line
  // holding `says`; restore must start nothing (pid stays free).
  void expectRefused(const std::string& img, pid_t pid, const std::string& says) {
    auto r = h.runCkpt({"restore", img, "--detach"});
    EXPECT_TRUE(r.status.exitedWith(1)) << r.describe();
    EXPECT_NE(r.err.find(says), std::string::npos) << r.describe();
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line\n" << r.describe();
    EXPECT_EQ(r.out, "") << r.describe();
    EXPECT_TRUE(h.reapAll(Seconds(5)));
    EXPECT_FALSE(pidExists(pid)) << "a refused restore started pid " << pid;
    auto c = h.runCkpt({"check", "--image", img});
    EXPECT_TRUE(c.status.exitedWith(1)) << c.describe();
    EXPECT_NE(c.err.find(says), std::string::npos) << c.describe();
  }

  // Dumps `argv` with --kill; its pid, now free.
  pid_t dumpKilled(const std::vector<std::string>& argv, const std::string& img) {
    pid_t pid = h.spawn(argv);
    auto tree = Harness::treePids(pid);
    dump(pid, img, true);
    expectGone(pid, tree);
    return pid;
  }

  // Dumps `name` with --kill; its pid, now free.
  pid_t dumpKilled(const std::string& name, const std::string& img) {
    pid_t pid = h.spawn(programCase(name));
    auto tree = Harness::treePids(pid);
    dump(pid, img, true);
    expectGone(pid, tree);
    return pid;
  }
};

TEST_F(ImageChecks, AnImageFromAKernelWithAnotherVdsoIsRefused) {
  const std::string img = h.imageDir();
  pid_t pid = dumpKilled("sturdy", img);
  ASSERT_FALSE(HasFatalFailure());
  const std::string original = readFile(img + "/manifest.json");
  const std::string originalSum = readFile(img + "/manifest.xxh3");
  auto j = nlohmann::json::parse(original);
  ASSERT_EQ(j["vdso_layout"].size(), 3u);
  const uint64_t vdsoSize = j["vdso_layout"][2].get<uint64_t>();
  ASSERT_GT(vdsoSize, 0u);
  ASSERT_NE(j.value("vdso_xxh3", uint64_t(0)), 0u) << "the dump keeps no vDSO checksum";
  {
    SCOPED_TRACE("another [vdso] size");
    editManifest(img, [&](nlohmann::json& m) { m["vdso_layout"][2] = vdsoSize + 4096; });
    expectRefused(img, pid,
                  "the image comes from another kernel (" + j["kernel"].get<std::string>());
    expectRefused(img, pid,
                  "its [vdso] is " + std::to_string(vdsoSize + 4096) + " bytes, this kernel's is " +
                      std::to_string(vdsoSize));
  }
  {
    SCOPED_TRACE("the same sizes, other [vdso] code");
    std::ofstream(img + "/manifest.json", std::ios::trunc) << original;
    std::ofstream(img + "/manifest.xxh3", std::ios::trunc) << originalSum;
    editManifest(img, [&](nlohmann::json& m) {
      m["vdso_xxh3"] = m["vdso_xxh3"].get<uint64_t>() ^ 1;
      m["kernel"] = "6.1.0-other-build";
    });
    expectRefused(img, pid,
                  "the image comes from another kernel build (6.1.0-other-build, this is ");
    expectRefused(img, pid, "its [vdso] code differs");
  }
  // As dumped, it restores.
  std::ofstream(img + "/manifest.json", std::ios::trunc) << original;
  std::ofstream(img + "/manifest.xxh3", std::ios::trunc) << originalSum;
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(img, pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
}

// mem_file maps a file MAP_PRIVATE and restore reads its clean pages from
// the file again: one byte changed in place (same inode, same size, even
// the same mtime) must refuse the image, naming the file.
TEST_F(ImageChecks, AMappedFileChangedInPlaceIsRefused) {
  const std::string img = h.imageDir();
  pid_t pid = dumpKilled("mem_file", img);
  ASSERT_FALSE(HasFatalFailure());
  const std::string file = h.workDir() + "/mem_file.private";
  struct stat before {};
  ASSERT_EQ(stat(file.c_str(), &before), 0) << file;
  const std::string content = readFile(file);
  ASSERT_EQ(content.size(), size_t(before.st_size));

  std::string changed = content;
  changed[100] = char(changed[100] ^ 0x55);  // page 0: never written, read from the file
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write(changed.data(), std::streamsize(changed.size()));
  }
  const timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(utimensat(AT_FDCWD, file.c_str(), times, 0), 0);
  struct stat after {};
  ASSERT_EQ(stat(file.c_str(), &after), 0);
  ASSERT_EQ(after.st_ino, before.st_ino) << "changed in place, not replaced";
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  ASSERT_NO_FATAL_FAILURE(expectRefused(img, pid,
                                        "pid " + std::to_string(pid) + ": mapped file " + file +
                                            " changed since the dump: its content changed"));

  // Grown by a page: named by its size.
  {
    std::ofstream f(file, std::ios::binary | std::ios::trunc);
    f << content << std::string(4096, 'x');
  }
  ASSERT_NO_FATAL_FAILURE(expectRefused(
      img, pid,
      "mapped file " + file + " changed since the dump: its size was " +
          std::to_string(content.size()) + " bytes, now " + std::to_string(content.size() + 4096)));

  // Put back as it was (a new mtime, the same bytes): restores, and the
  // program finds its mappings as they were.
  { std::ofstream(file, std::ios::binary | std::ios::trunc) << content; }
  auto c = h.runCkpt({"check", "--image", img});
  EXPECT_TRUE(c.status.ok()) << c.describe();
  pid_t restored;
  ASSERT_NO_FATAL_FAILURE(restoreDetached(img, pid, &restored));
  ASSERT_NO_FATAL_FAILURE(wakeAndExpectPass(restored, "the restored tree"));
}

// Flips one byte in the middle of pid's page file.
void corruptPages(const std::string& img, pid_t pid) {
  const std::string pages = img + "/pages-" + std::to_string(pid) + ".img";
  const auto size = std::filesystem::file_size(pages);
  ASSERT_GT(size, 1u << 20) << pages;
  ASSERT_TRUE(flipByte(pages, size / 2)) << pages;
}

TEST_F(ImageChecks, ACorruptPageRunIsRefusedBeforeAnythingRuns) {
  const std::string img = h.imageDir();
  pid_t pid = dumpKilled({programPath("mem_big"), "16"}, img);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_NO_FATAL_FAILURE(corruptPages(img, pid));
  ASSERT_NO_FATAL_FAILURE(
      expectRefused(img, pid, "pages-" + std::to_string(pid) + ".img: run at "));
  auto r = h.runCkpt({"restore", img, "--detach"});
  EXPECT_NE(r.err.find("checksum mismatch: the image is corrupt"), std::string::npos)
      << r.describe();
  EXPECT_TRUE(h.reapAll(Seconds(5)));
  EXPECT_FALSE(pidExists(pid)) << "a refused restore started pid " << pid;
}

TEST_F(ImageChecks, ACorruptPageInALazyRestoreKillsTheTree) {
  const std::string img = h.imageDir();
  pid_t pid = dumpKilled({programPath("mem_big"), "16"}, img);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_NO_FATAL_FAILURE(corruptPages(img, pid));
  auto r = h.runCkpt({"restore", img, "--lazy", "--detach"});
  ASSERT_TRUE(r.status.ok()) << r.describe();
  ASSERT_EQ(parsePidLine(r.out), pid) << r.describe();
  kill(pid, SIGUSR1);  // the check reads every page; it may be dead already
  auto st = h.waitExit(pid);
  EXPECT_TRUE(st.kind == ExitStatus::Signaled && st.code == SIGKILL)
      << "the restored program " << st.describe()
      << " after its page server found a corrupt page; it must be killed";
  const std::string log = readFile(img + "/lazy.log");
  EXPECT_NE(log.find("checksum mismatch: the image is corrupt"), std::string::npos) << log;
  EXPECT_NE(log.find("killing the restored tree"), std::string::npos) << log;
}

}  // namespace
}  // namespace ckpt::test
