#include "Terminal.hpp"

#include <fstream>
#include <stdexcept>

namespace ckpt::test {

TmuxServer::TmuxServer(Harness& h, std::string socketPath, const std::string& session, int cols,
                       int rows, const std::string& command, const std::string& config)
    : h_(h), socket_(std::move(socketPath)) {
  // A config of our own: the user's ~/.tmux.conf must not change what a
  // test sees; no status line, so a pane is exactly cols x rows.
  std::string conf = socket_ + ".conf";
  std::ofstream(conf) << "set -g status off\n"
                         "set -g history-limit 5000\n"
                         "set -g default-terminal screen\n"
                         "set -g remain-on-exit off\n"
                      << config;
  std::vector<std::string> args{"tmux",
                                "-S",
                                socket_,
                                "-f",
                                conf,
                                "new-session",
                                "-d",
                                "-s",
                                session,
                                "-x",
                                std::to_string(cols),
                                "-y",
                                std::to_string(rows)};
  if (!command.empty()) args.push_back(command);
  auto r = h_.run(args);
  if (!r.status.ok()) throw std::runtime_error("cannot start tmux: " + r.describe());
  running_ = true;
}

TmuxServer::~TmuxServer() {
  if (running_) h_.run({"tmux", "-S", socket_, "kill-server"}, Seconds(10));
}

CommandResult TmuxServer::tryTmux(const std::vector<std::string>& args, bool report) {
  std::vector<std::string> argv{"tmux", "-S", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return h_.run(argv, kTimeout, report);
}

std::string TmuxServer::tmux(const std::vector<std::string>& args) {
  auto r = tryTmux(args);
  if (!r.status.ok()) throw std::runtime_error("tmux failed: " + r.describe());
  return r.out;
}

static std::string firstLine(const std::string& s) {
  return s.substr(0, s.find('\n'));
}

pid_t TmuxServer::serverPid() {
  return std::stoi(tmux({"display-message", "-p", "#{pid}"}));
}

std::string TmuxServer::newWindow(const std::string& session, const std::string& command) {
  return firstLine(
      tmux({"new-window", "-d", "-P", "-F", "#{pane_id}", "-t", session + ":", command}));
}

pid_t TmuxServer::panePid(const std::string& target) {
  return std::stoi(tmux({"display-message", "-p", "-t", target, "#{pane_pid}"}));
}

std::string TmuxServer::paneTty(const std::string& target) {
  return firstLine(tmux({"display-message", "-p", "-t", target, "#{pane_tty}"}));
}

static std::string trimTrailingBlankLines(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Screens are read often (polls): not in the failure report.
std::string TmuxServer::capture(const std::string& target, bool escapes) {
  std::vector<std::string> args{"capture-pane", "-p", "-t", target};
  if (escapes) args.push_back("-e");
  auto r = tryTmux(args, false);
  if (!r.status.ok()) throw std::runtime_error("tmux failed: " + r.describe());
  return trimTrailingBlankLines(r.out);
}

std::string TmuxServer::captureHistory(const std::string& target) {
  auto r = tryTmux({"capture-pane", "-p", "-S", "-", "-t", target}, false);
  if (!r.status.ok()) throw std::runtime_error("tmux failed: " + r.describe());
  return trimTrailingBlankLines(r.out);
}

void TmuxServer::sendText(const std::string& target, const std::string& text) {
  tmux({"send-keys", "-l", "-t", target, text});
}

void TmuxServer::sendKeys(const std::string& target, const std::vector<std::string>& keys) {
  std::vector<std::string> args{"send-keys", "-t", target};
  args.insert(args.end(), keys.begin(), keys.end());
  tmux(args);
}

bool TmuxServer::waitForText(const std::string& target, const std::string& text,
                             Clock::duration timeout) {
  // tmux offers no event for "the screen now shows X": poll the screen.
  return waitUntil(
      [&] {
        auto r = tryTmux({"capture-pane", "-p", "-t", target}, false);
        return r.status.ok() && r.out.find(text) != std::string::npos;
      },
      timeout);
}

void TmuxServer::resize(const std::string& target, int cols, int rows) {
  tmux({"resize-window", "-t", target, "-x", std::to_string(cols), "-y", std::to_string(rows)});
}

}  // namespace ckpt::test
