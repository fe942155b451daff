// zdtm: inotify. One instance watching a directory, a file, another
// directory (one-shot) and a symbolic link itself (IN_DONT_FOLLOW), with a
// removed watch leaving a hole in the watch descriptors (1, 3, 4, 5); a
// blocking one whose only watch is 2 (1 was removed); and one with an event
// still queued at dump (ckpt warns that such events are lost).
// With "fanotify": also holds a fanotify fd, which ckpt must refuse to dump.
#include <poll.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <algorithm>

#include "zdtm.hpp"

namespace {

struct Event {
  int wd;
  uint32_t mask;
  std::string name;
};

// Every event queued now (waits up to waitMs for the first one).
std::vector<Event> readEvents(int fd, int waitMs = 5000) {
  std::vector<Event> out;
  pollfd pfd{fd, POLLIN, 0};
  if (poll(&pfd, 1, waitMs) != 1) return out;
  int avail = 0;
  while (ioctl(fd, FIONREAD, &avail) == 0 && avail > 0) {
    std::vector<char> buf(static_cast<size_t>(avail));
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    for (size_t at = 0; at + sizeof(inotify_event) <= static_cast<size_t>(n);) {
      inotify_event ev;
      memcpy(&ev, buf.data() + at, sizeof ev);
      out.push_back({ev.wd, ev.mask, ev.len ? std::string(buf.data() + at + sizeof ev) : ""});
      at += sizeof ev + ev.len;
    }
  }
  return out;
}

std::string describe(const std::vector<Event>& evs) {
  std::string s;
  for (auto& e : evs) {
    char b[128];
    snprintf(b, sizeof b, "{wd %d mask %#x '%s'} ", e.wd, e.mask, e.name.c_str());
    s += b;
  }
  return s.empty() ? "nothing" : s;
}

// Does evs hold an event for wd with this mask bit (and name, if given)?
bool has(const std::vector<Event>& evs, int wd, uint32_t bit, const char* name = nullptr) {
  return std::any_of(evs.begin(), evs.end(), [&](const Event& e) {
    return e.wd == wd && (e.mask & bit) && (!name || e.name == name);
  });
}

// The watch lines of this fd's fdinfo, sorted.
std::vector<std::string> watchLines(int fd) {
  std::vector<std::string> out;
  auto text = zdtm::readFile("/proc/self/fdinfo/" + std::to_string(fd));
  if (!text) return out;
  size_t pos = 0;
  while ((pos = text->find("inotify wd:", pos)) != std::string::npos) {
    size_t eol = text->find('\n', pos);
    out.push_back(text->substr(pos, eol - pos));
    pos = eol;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (auto& l : v) s += "[" + l + "] ";
  return s;
}

int addOrDie(int fd, const std::string& path, uint32_t mask) {
  int wd = inotify_add_watch(fd, path.c_str(), mask);
  if (wd < 0) zdtm::die("inotify_add_watch %s", path.c_str());
  return wd;
}

void mkdirOrDie(const std::string& path) {
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) zdtm::die("mkdir %s", path.c_str());
}

void touch(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0) close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && strcmp(argv[1], "fanotify") == 0 && fanotify_init(FAN_CLASS_NOTIF, O_RDONLY) < 0)
    zdtm::die("fanotify_init");
  const std::string dir = zdtm::testPath("inotify.d");
  const std::string dir2 = zdtm::testPath("inotify.d2");
  const std::string file = dir + "/watched";
  const std::string link = zdtm::testPath("inotify.link");
  const std::string gone = zdtm::testPath("inotify.gone");
  const std::string queued = zdtm::testPath("inotify.q");
  mkdirOrDie(dir);
  mkdirOrDie(dir2);
  mkdirOrDie(gone);
  mkdirOrDie(queued);
  zdtm::writeFileOrDie(file, "0123456789", 10);
  unlink(link.c_str());
  if (symlink(file.c_str(), link.c_str()) != 0) zdtm::die("symlink");

  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0) zdtm::die("inotify_init1");
  int wDir = addOrDie(in, dir, IN_CREATE | IN_DELETE | IN_MOVED_TO);
  int removed = addOrDie(in, dir2, IN_CREATE);
  if (inotify_rm_watch(in, removed) != 0) zdtm::die("inotify_rm_watch");
  int wFile = addOrDie(in, file, IN_MODIFY | IN_CLOSE_WRITE | IN_EXCL_UNLINK);
  int wDir2 = addOrDie(in, dir2, IN_CREATE | IN_ONESHOT);
  int wLink = addOrDie(in, link, IN_ATTRIB | IN_DONT_FOLLOW);
  if (wDir != 1 || removed != 2 || wFile != 3 || wDir2 != 4 || wLink != 5)
    zdtm::die("unexpected watch descriptors %d %d %d %d %d", wDir, removed, wFile, wDir2, wLink);
  readEvents(in, 0);  // the IN_IGNORED of the removed watch

  int in2 = inotify_init1(0);
  if (in2 < 0) zdtm::die("inotify_init1");
  if (inotify_rm_watch(in2, addOrDie(in2, gone, IN_ALL_EVENTS)) != 0) zdtm::die("rm_watch");
  int w2 = addOrDie(in2, dir, IN_CREATE);
  if (w2 != 2) zdtm::die("second instance: watch %d, want 2", w2);
  readEvents(in2, 0);

  int inq = inotify_init1(IN_NONBLOCK);
  if (inq < 0) zdtm::die("inotify_init1");
  int wq = addOrDie(inq, queued, IN_CREATE);
  touch(queued + "/before");  // queued at dump: lost after restore

  const auto linesIn = watchLines(in), linesIn2 = watchLines(in2);

  zdtm::readyAndWait(zdtm::Wait::Read);

  CHECK(watchLines(in) == linesIn, "watches are %s, were %s", joined(watchLines(in)).c_str(),
        joined(linesIn).c_str());
  CHECK(watchLines(in2) == linesIn2, "second instance's watches are %s, were %s",
        joined(watchLines(in2)).c_str(), joined(linesIn2).c_str());
  int fl = fcntl(in, F_GETFL);
  CHECK((fl & O_NONBLOCK) && (fcntl(in, F_GETFD) & FD_CLOEXEC),
        "inotify lost O_NONBLOCK or FD_CLOEXEC (flags %#o)", fl);
  CHECK(!(fcntl(in2, F_GETFL) & O_NONBLOCK), "the blocking inotify is non-blocking");
  int avail = -1;
  CHECK(ioctl(in, FIONREAD, &avail) == 0 && avail == 0,
        "inotify holds %d bytes of events nobody caused", avail);

  // New changes arrive, with the old watch descriptors.
  touch(dir + "/new");
  auto evs = readEvents(in);
  CHECK(has(evs, wDir, IN_CREATE, "new"), "creating %s/new gave %s", dir.c_str(),
        describe(evs).c_str());
  int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  CHECK(fd >= 0 && write(fd, "x", 1) == 1, "writing %s: %s", file.c_str(), strerror(errno));
  if (fd >= 0) close(fd);
  evs = readEvents(in);
  CHECK(has(evs, wFile, IN_MODIFY) && has(evs, wFile, IN_CLOSE_WRITE),
        "writing the watched file gave %s", describe(evs).c_str());
  touch(dir2 + "/x");
  evs = readEvents(in);
  CHECK(has(evs, wDir2, IN_CREATE, "x") && has(evs, wDir2, IN_IGNORED),
        "creating %s/x gave %s (want IN_CREATE, then IN_IGNORED of the one-shot watch)",
        dir2.c_str(), describe(evs).c_str());
  timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  CHECK(utimensat(AT_FDCWD, link.c_str(), times, AT_SYMLINK_NOFOLLOW) == 0, "utimensat: %s",
        strerror(errno));
  evs = readEvents(in);
  CHECK(has(evs, wLink, IN_ATTRIB), "touching the link itself gave %s", describe(evs).c_str());
  int next = inotify_add_watch(in, queued.c_str(), IN_DELETE);
  CHECK(next == 6, "a new watch got descriptor %d, want 6", next);

  evs = readEvents(in2);
  CHECK(has(evs, w2, IN_CREATE, "new"), "second instance: creating %s/new gave %s", dir.c_str(),
        describe(evs).c_str());
  next = inotify_add_watch(in2, queued.c_str(), IN_DELETE);
  CHECK(next == 3, "second instance: a new watch got descriptor %d, want 3", next);

  // The queued event may be gone, but new ones come.
  readEvents(inq, 0);
  touch(queued + "/after");
  evs = readEvents(inq);
  CHECK(has(evs, wq, IN_CREATE, "after"), "third instance: creating %s/after gave %s",
        queued.c_str(), describe(evs).c_str());

  // Leave the directories as they were, for another restore of the image.
  unlink((dir + "/new").c_str());
  unlink((dir2 + "/x").c_str());
  unlink((queued + "/after").c_str());
  return zdtm::finish();
}
