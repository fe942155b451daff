// Hook discovery from /proc: the tree, its socket fds, and /proc/ROOT/net/unix
// (the tree's network namespace, where its abstract names live).
#include "core/hooks/HookDiscovery.hpp"

#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/proc/ProcFiles.hpp"
#include "core/util/Error.hpp"

namespace ckpt::hooks {
namespace {

constexpr unsigned kAcceptCon = 1u << 16;  // __SO_ACCEPTCON: a listening socket
constexpr std::string_view kHookPrefix = "@ckpt-hook:";

std::vector<std::string> dirEntries(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d))
    if (e->d_name[0] != '.') out.emplace_back(e->d_name);
  closedir(d);
  return out;
}

// Socket inode -> the (pid, fd) pairs holding it, in the order of `pids`, then by fd.
std::map<uint64_t, std::vector<std::pair<pid_t, int>>> socketHolders(
    const std::vector<pid_t>& pids) {
  std::map<uint64_t, std::vector<std::pair<pid_t, int>>> out;
  for (pid_t pid : pids) {
    std::string dir = fmt::format("/proc/{}/fd", pid);
    std::vector<int> fds;
    for (const auto& name : dirEntries(dir)) fds.push_back(std::stoi(name));
    std::sort(fds.begin(), fds.end());
    for (int fd : fds) {
      std::string link;
      try {
        link = proc::readLink(fmt::format("{}/{}", dir, fd));
      } catch (const Error&) {
        continue;  // closed meanwhile
      }
      unsigned long long ino = 0;
      int used = 0;
      if (std::sscanf(link.c_str(), "socket:[%llu]%n", &ino, &used) != 1 ||
          size_t(used) != link.size())
        continue;
      out[ino].emplace_back(pid, fd);
    }
  }
  return out;
}

}  // namespace

std::vector<UnixSocketEntry> parseProcNetUnix(std::string_view text) {
  std::vector<UnixSocketEntry> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string line(text.substr(pos, eol - pos));
    pos = eol + 1;
    unsigned flags = 0, type = 0, state = 0;
    unsigned long long ino = 0;
    int used = 0;
    // "Num: RefCount Protocol Flags Type St Inode[ Path]"; the header fails the scan.
    if (std::sscanf(line.c_str(), "%*[0-9a-fA-F]: %*x %*x %x %x %x %llu%n", &flags, &type, &state,
                    &ino, &used) != 4)
      continue;
    UnixSocketEntry e;
    e.ino = ino;
    e.type = int(type);
    e.state = int(state);
    e.listening = flags & kAcceptCon;
    if (size_t(used) < line.size() && line[size_t(used)] == ' ')
      e.name = line.substr(size_t(used) + 1);
    out.push_back(std::move(e));
  }
  return out;
}

std::string hookNameOf(const std::optional<std::string>& printed) {
  if (!printed || !printed->starts_with(kHookPrefix)) return "";
  return printed->substr(1);
}

std::vector<pid_t> liveTreePids(pid_t root) {
  std::vector<pid_t> out{root};
  std::set<pid_t> seen{root};
  for (size_t i = 0; i < out.size(); ++i) {
    std::string taskDir = fmt::format("/proc/{}/task", out[i]);
    for (const auto& tid : dirEntries(taskDir)) {
      std::string text;
      try {
        text = proc::readProcFile(taskDir + "/" + tid + "/children");
      } catch (const Error&) {
        continue;
      }
      std::istringstream in(text);
      pid_t c;
      while (in >> c)
        if (seen.insert(c).second) out.push_back(c);
    }
  }
  return out;
}

TreeHookSockets findHookSockets(pid_t root) {
  std::vector<pid_t> pids = liveTreePids(root);
  auto holders = socketHolders(pids);
  TreeHookSockets out;
  for (const auto& e :
       parseProcNetUnix(proc::readProcFile(fmt::format("/proc/{}/net/unix", root)))) {
    std::string name = hookNameOf(e.name);
    if (name.empty()) continue;
    auto h = holders.find(e.ino);
    if (h == holders.end()) continue;  // another tree's hook
    HookSocket s{name, e.ino, e.type, h->second};
    (e.listening ? out.listening : out.connections).push_back(std::move(s));
  }
  // Tree order (parents first), then by name: the order hooks are asked in.
  auto rank = [&](const HookSocket& s) {
    auto it = std::find(pids.begin(), pids.end(), s.holders.front().first);
    return std::pair(it - pids.begin(), s.name);
  };
  for (auto* v : {&out.listening, &out.connections})
    std::sort(v->begin(), v->end(),
              [&](const HookSocket& a, const HookSocket& b) { return rank(a) < rank(b); });
  return out;
}

}  // namespace ckpt::hooks
