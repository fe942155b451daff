// A real terminal for tests: a tmux server on a private socket. It serves
// as "the user's terminal" (a pane of a chosen size that ckpt runs in, whose
// screen is read back with capture-pane) and as the session a test dumps.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "Harness.hpp"

namespace ckpt::test {

class TmuxServer {
 public:
  // Starts a server at `socketPath` (no config file but a status-less,
  // fixed-size setup) with one detached session `session` of cols x rows
  // running `command` through /bin/sh (empty: the default shell).
  // `config`: more lines for its config file (plugins, options).
  TmuxServer(Harness& h, std::string socketPath, const std::string& session, int cols, int rows,
             const std::string& command = "", const std::string& config = "");
  ~TmuxServer();  // kill-server, unless the server was dumped with --kill
  TmuxServer(const TmuxServer&) = delete;
  TmuxServer& operator=(const TmuxServer&) = delete;

  const std::string& socket() const { return socket_; }

  // Runs `tmux -S SOCKET args...`; throws with its output if it fails.
  std::string tmux(const std::vector<std::string>& args);
  // The same, returning the result instead of throwing; `report`: false for
  // polls (kept out of the failure report).
  CommandResult tryTmux(const std::vector<std::string>& args, bool report = true);

  pid_t serverPid();
  // A new window in `session` running `command`; returns its pane id (%N).
  std::string newWindow(const std::string& session, const std::string& command);
  pid_t panePid(const std::string& target);
  std::string paneTty(const std::string& target);

  // The visible screen of a pane: text, with -e the colours and attributes
  // as escape sequences; trailing blank lines trimmed.
  std::string capture(const std::string& target, bool escapes = true);
  // Scrollback and screen together, as text.
  std::string captureHistory(const std::string& target);
  // Types text (literally) or named keys (Enter, C-c, Escape) into a pane.
  void sendText(const std::string& target, const std::string& text);
  void sendKeys(const std::string& target, const std::vector<std::string>& keys);
  // Waits until the pane's screen contains `text`; false on timeout.
  bool waitForText(const std::string& target, const std::string& text,
                   Clock::duration timeout = kTimeout);
  void resize(const std::string& target, int cols, int rows);

  // The server was killed (dumped with --kill): nothing to stop at the end.
  void forget() { running_ = false; }

 private:
  Harness& h_;
  std::string socket_;
  bool running_ = false;
};

}  // namespace ckpt::test
