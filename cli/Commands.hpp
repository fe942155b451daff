// The commands of `ckpt`, one function each; main.cpp parses arguments and calls them.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::cli {

struct DumpOptions {
  pid_t pid = 0;
  std::string dir;
  bool kill = false;
  std::vector<std::pair<pid_t, int>> externals;  // --external PID:FD
  double hookTimeout = 10;                       // --hook-timeout SECONDS
  bool tcpClose = false;                         // --tcp-close
  bool shellJob = false;                         // --shell-job
  bool unixClose = false;                        // --unix-close
  bool json = false;                             // --json: a summary for scripts
  std::string every;                             // --every T: a checkpoint every T into DIR
  int keep = 3;                                  // --keep N: the newest N of those
  std::string compress;                          // --compress zstd[:LEVEL]
  std::string parent;                            // --parent DIR: incremental on that image
  bool preCopy = true;                           // off with --no-pre-copy
  double preCopyMinMib = 8;                      // --pre-copy-min MIB
};

struct RestoreOptions {
  std::string dir;
  bool detach = false;
  std::map<std::string, std::string> hookOptions;  // --hook-option KEY=VALUE
  double hookTimeout = 10;                         // --hook-timeout SECONDS
  bool shellJob = false;                           // --shell-job
  bool json = false;                               // --json (with --detach)
  std::string display;                             // --display :M (X clients)
  bool lazy = false;                               // --lazy
};

struct MigrateOptions {
  pid_t pid = 0;
  std::string to;                       // --to [user@]host
  std::vector<std::string> sshOptions;  // --ssh-option OPT, each passed to ssh as is
  std::string remoteCkpt = "ckpt";      // --remote-ckpt PATH on the far host
  bool keepRunning = false;             // --keep-running: a copy, the source runs on
  bool json = false;
};

struct RunOptions {
  std::vector<std::string> command;  // CMD [ARGS...]
  std::string pidfile;               // --pidfile F
};

struct X11RunOptions {
  std::vector<std::string> command;  // CMD [ARGS...]
  std::string pidfile;               // --pidfile F
};

struct X11MoveOptions {
  int pid = 0;          // the proxy (`ckpt x11 run`)
  std::string display;  // --display :M
  bool json = false;
};

struct VncRunOptions {
  int display = -1;  // --display :N (-1: the first free one)
  int rfbport = -1;  // --rfbport P (-1: 5900 + N)
  std::string geometry = "1024x768";
  int depth = 24;
  std::string passwordFile;  // --password-file F
  std::string pidfile;       // --pidfile F
  std::vector<std::string> session;
};

struct VncSnapshotOptions {
  std::string address;  // :N, HOST:PORT or a unix socket path
  std::string output;   // -o out.png
  std::string passwordFile;
};

int dumpCommand(const DumpOptions& opts);
int restoreCommand(const RestoreOptions& opts);
// thumbnail: write the image's thumbnail there ("" for none).
int inspectCommand(const std::string& dir, bool json, const std::string& thumbnail = "");
int lsCommand(const std::string& folder, bool json);
// host: one JSON object with this host's ckpt version, image formats,
// machine and kernel around the features (what `ckpt migrate` compares).
int checkCommand(bool json, bool host = false);
// `check --image DIR|-`: restore's pre-flight checks of an image (or of a
// manifest on stdin) against this machine; 0 when it fits, 1 (Error) if not.
int checkImageCommand(const std::string& dir, bool json);
// `ckpt migrate`: exit status 0 moved, 1 failed (the source runs on, or was
// brought back here: the message says which).
int migrateCommand(const MigrateOptions& opts);
int runCommand(const RunOptions& opts);
int x11RunCommand(const X11RunOptions& opts);
int x11MoveCommand(const X11MoveOptions& opts);
int vncRunCommand(const VncRunOptions& opts);
int vncSnapshotCommand(const VncSnapshotOptions& opts);

}  // namespace ckpt::cli
