// Entry point of `ckpt`: parses the command line and runs one command. Every
// error is caught here and printed as one line naming what failed.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/Commands.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "tty/Register.hpp"
#include "vnc/layer/VncLayer.hpp"
#include "x11proxy/layer/X11Layer.hpp"

int main(int argc, char** argv) {
  using namespace ckpt;
  tty::registerWithCore();
  vnc::registerWithCore();
  x11::registerWithCore();
  CLI::App app{"ckpt: checkpoint and restore interactive Linux sessions", "ckpt"};
  app.require_subcommand(1);
  app.set_version_flag("--version", CKPT_VERSION);
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More messages (repeat for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors");
  app.footer(R"help(Examples:
  ckpt dump 4242 -o job.img --kill        save a process tree, then stop it
  ckpt restore job.img                    bring it back, in the foreground
  ckpt dump "$(tmux display -p '#{pid}')" -o tmux.img --kill
  ckpt restore tmux.img --detach && tmux attach
  ckpt dump "$(pgrep -n vim)" -o vim.img --shell-job --kill
  ckpt restore vim.img --shell-job        vim again, in this terminal
  ckpt run -- vim notes.txt               vim on a terminal ckpt can repaint exactly
  ckpt x11 run -- xterm                   an X client ckpt can follow (proxy)
  ckpt vnc run --pidfile d.pid            a VNC desktop ckpt can hibernate whole
  ckpt ls                                 the images here

Exit status: 0 success; 1 failure (the message names what failed and on
which pid, fd or file; a failed dump leaves the program running, a failed
restore leaves nothing running); 2 bad command line. A foreground restore
exits with the restored root's status (128+N if killed by signal N).
`ckpt COMMAND --help` describes each command.)help");

  cli::DumpOptions dump;
  auto* dumpCmd = app.add_subcommand("dump", "Checkpoint the process tree rooted at PID into DIR");
  dumpCmd->add_option("pid", dump.pid, "Root of the tree to checkpoint")->required();
  dumpCmd
      ->add_option("-o,--output", dump.dir,
                   "Image directory to create, or - to write the image as one stream to stdout")
      ->required();
  dumpCmd->add_flag("--kill", dump.kill, "Kill the tree after a successful dump");
  dumpCmd->add_flag_callback(
      "--leave-running", [&] { dump.kill = false; },
      "Keep the tree running after the dump (default)");
  dumpCmd
      ->add_option_function<std::vector<std::string>>(
          "--external",
          [&](const std::vector<std::string>& specs) {
            for (const auto& spec : specs) {
              int pid = 0, fd = 0, used = 0;
              if (std::sscanf(spec.c_str(), "%d:%d%n", &pid, &fd, &used) != 2 ||
                  size_t(used) != spec.size() || pid <= 0 || fd < 0)
                throw CLI::ValidationError("--external", "expected PID:FD, got '" + spec + "'");
              dump.externals.emplace_back(pid, fd);
            }
          },
          "PID:FD of a socket connected outside the tree: restore it as closed by its peer "
          "(repeatable)")
      ->allow_extra_args(false);  // one value per flag: a positional after it stays positional
  dumpCmd->add_flag("--tcp-close", dump.tcpClose,
                    "Restore every TCP connection to outside the tree as closed by its peer");
  dumpCmd
      ->add_option("--every", dump.every,
                   "Checkpoint every T (500ms, 30s, 5m, 2h) into DIR/img-DATE until the tree "
                   "ends or ckpt is stopped")
      ->excludes("--kill");
  dumpCmd->add_option("--keep", dump.keep, "With --every: keep the newest N images (default 3)")
      ->check(CLI::PositiveNumber)
      ->needs("--every");
  dumpCmd->add_flag("--unix-close", dump.unixClose,
                    "Restore every unix socket connected outside the tree as closed by its "
                    "peer (a server's clients: tmux's attached clients)");
  dumpCmd->add_flag("--json", dump.json,
                    "Print a summary for scripts (image, processes, sizes, times)");
  dumpCmd->add_flag("--shell-job", dump.shellJob,
                    "The tree runs on the terminal it was started from (outside the tree): "
                    "save it as the user's terminal, for `restore --shell-job`");
  dumpCmd
      ->add_option("--hook-timeout", dump.hookTimeout,
                   "Seconds each program's hook has to answer (default 10)")
      ->check(CLI::Range(0.001, 86400.0));
  dumpCmd->add_option("--compress", dump.compress,
                      "Compress the pages with zstd on every core: zstd (level 1) or "
                      "zstd:LEVEL (1-19, negative is faster); restore reads it as it is");
  dumpCmd->add_flag("!--no-pre-copy", dump.preCopy,
                    "Copy all memory while the tree is frozen (or from a copy-on-write "
                    "snapshot) instead of tracking written pages while it runs");
  dumpCmd
      ->add_option("--pre-copy-min", dump.preCopyMinMib,
                   "Pre-copy only processes with more than this many MiB of private "
                   "memory; smaller ones are copied while frozen, which is quicker (default "
                   "8; 0 pre-copies every process)")
      ->check(CLI::Range(0.0, 1e9));
  dumpCmd->add_option("--parent", dump.parent,
                      "Store only the pages that changed since the image PARENT (compared by "
                      "content); restore then needs PARENT at the same path");

  dumpCmd->footer(R"help(Examples:
  ckpt dump 4242 -o job.img                 save, leave it running
  ckpt dump 4242 -o job.img --kill          save, then stop it
  ckpt dump 4242 -o job.img --external 4242:5   fd 5 is a connection to a
                                            server outside: restore it closed
  ckpt dump 4242 -o ~/ckpt --every 5m --keep 3   rolling checkpoints, each
                                            incremental on the one before
  ckpt dump 4242 -o job.img --compress zstd  smaller image
  ckpt dump 4242 -o job2.img --parent job.img   only what changed since job.img
  ckpt dump 4242 -o - --kill | ssh host ckpt restore -   move it to host
  ckpt dump "$(pgrep -n htop)" -o h.img --shell-job --kill
                                            a program on this terminal)help");

  cli::RestoreOptions restore;
  auto* restoreCmd = app.add_subcommand("restore", "Restore the process tree saved in DIR");
  restoreCmd
      ->add_option("dir", restore.dir,
                   "Image directory, or - to read an image stream (ckpt dump -o -) from stdin")
      ->required();
  restoreCmd->add_flag("-d,--detach", restore.detach,
                       "Print the root pid and return once the tree runs");
  restoreCmd
      ->add_flag("--shell-job", restore.shellJob,
                 "Give the tree this terminal, as its foreground job (images dumped with "
                 "--shell-job, or of `ckpt run`)")
      ->excludes("--detach");
  restoreCmd->add_flag("--json", restore.json, "With --detach: print the root pid and more as JSON")
      ->needs("--detach");
  restoreCmd->add_flag(
      "--lazy", restore.lazy,
      "Let the tree run as soon as everything but its private memory is back; that memory "
      "arrives on first touch and in the background (userfaultfd). ckpt, or with --detach a "
      "child of it, serves pages until all are in; with --json it reports that time too");
  restoreCmd
      ->add_option_function<std::vector<std::string>>(
          "--hook-option",
          [&](const std::vector<std::string>& specs) {
            for (const auto& spec : specs) {
              auto eq = spec.find('=');
              if (eq == 0 || eq == std::string::npos)
                throw CLI::ValidationError("--hook-option",
                                           "expected KEY=VALUE, got '" + spec + "'");
              restore.hookOptions[spec.substr(0, eq)] = spec.substr(eq + 1);
            }
          },
          "KEY=VALUE passed to the restored programs' hooks (repeatable), e.g. display=:2")
      ->allow_extra_args(false);
  restoreCmd->add_option("--display", restore.display,
                         "The X server that X clients of `ckpt x11 run` come back on (default: "
                         "$DISPLAY)");
  restoreCmd
      ->add_option("--hook-timeout", restore.hookTimeout,
                   "Seconds each program's hook has to answer (default 10)")
      ->check(CLI::Range(0.001, 86400.0));

  restoreCmd->footer(R"help(Examples:
  ckpt restore job.img                      foreground; Ctrl-C reaches the program
  ssh src ckpt dump 4242 -o - --kill | ckpt restore - --detach   from another machine
  ckpt restore job.img --detach             print the root pid, return
  ckpt restore big.img --lazy --detach      running in milliseconds; memory follows
  ckpt restore vim.img --shell-job          take this terminal, redraw the screen
  ckpt restore xlogo.img --display :2      an X client of `ckpt x11 run`, on :2
  ckpt restore app.img --hook-option key=value    tell the program's hook)help");

  std::string inspectDir;
  bool inspectJson = false;
  std::string inspectThumbnail;
  auto* inspectCmd = app.add_subcommand("inspect", "Show what an image holds");
  inspectCmd->add_option("dir", inspectDir, "Image directory")->required();
  inspectCmd->add_flag("--json", inspectJson, "Machine-readable output");
  inspectCmd->add_option("--thumbnail", inspectThumbnail,
                         "Write the image's thumbnail of the screen (a VNC desktop's) to this PNG "
                         "file");

  std::string lsDir = ".";
  bool lsJson = false;
  auto* lsCmd = app.add_subcommand(
      "ls", "List the images in DIR (default: here): time, kind, command, size, thumbnail");
  lsCmd->add_option("dir", lsDir, "Folder holding images");
  lsCmd->add_flag("--json", lsJson, "Machine-readable output");

  bool checkJson = false;
  bool checkHost = false;
  std::string checkImage;
  auto* checkCmd = app.add_subcommand("check", "Test each kernel feature ckpt uses");
  checkCmd->add_option("--image", checkImage,
                       "Check instead that the image DIR (or a manifest on stdin: -) can be "
                       "restored here, starting nothing: kernel vDSO, credentials, the files it "
                       "maps and opens");
  checkCmd->add_flag("--json", checkJson, "Machine-readable output");
  checkCmd->add_flag("--host", checkHost,
                     "One JSON object: ckpt version, image formats, machine, kernel, features");

  cli::MigrateOptions migrate;
  auto* migrateCmd = app.add_subcommand(
      "migrate", "Move a running tree to another machine over ssh (dump | ssh restore)");
  migrateCmd->add_option("pid", migrate.pid, "Root of the tree to move")->required();
  migrateCmd->add_option("--to", migrate.to, "The far host, [user@]host as ssh takes it")
      ->required();
  migrateCmd
      ->add_option(
          "--ssh-option", migrate.sshOptions,
          "One argument for ssh, as is (repeat it: --ssh-option=-p2222 --ssh-option=-iKEY)")
      ->allow_extra_args(false);
  migrateCmd->add_option("--remote-ckpt", migrate.remoteCkpt,
                         "ckpt on the far host (default: ckpt on its PATH)");
  migrateCmd->add_flag("--keep-running", migrate.keepRunning,
                       "Leave the source running (a copy, to another machine: pids must be free)");
  migrateCmd->add_flag("--json", migrate.json, "Print the result as JSON");
  migrateCmd->footer(R"help(Examples:
  ckpt migrate 4242 --to alice@box2              move the tree of 4242 to box2
  ckpt migrate 4242 --to box2 --ssh-option=-p2222 --remote-ckpt /opt/ckpt/ckpt
  ckpt migrate 4242 --to box2 --keep-running --json

First `ssh HOST ckpt check --host`: the far side must have ckpt, read this
image format, be the same machine architecture and have every required
kernel feature; if not, the line says what does not fit and nothing is
touched. Then the tree is frozen and its image streamed into `ssh HOST ckpt
restore - --detach`. A stream that does not get through lets the tree run on
as it was. The tree is killed once the stream is out (its pids must be free
for the far side) while the image stays here until the far side reports the
restored pid; should the far restore fail, the tree is restored here again.
ssh runs with BatchMode=yes: use keys or an agent.)help");

  cli::RunOptions run;
  auto* runCmd = app.add_subcommand(
      "run", "Run CMD on a terminal of its own that ckpt can repaint after a restore");
  runCmd->add_option("--pidfile", run.pidfile,
                     "Write ckpt run's pid (the root of the tree to dump) to this file");
  runCmd->add_option("command", run.command, "CMD [ARGS...], after -- when CMD has options")
      ->required();
  runCmd->positionals_at_end();  // everything from CMD on is CMD's, its options included
  runCmd->footer(R"help(Examples:
  ckpt run --pidfile /tmp/vim.pid -- vim notes.txt
  ckpt dump "$(cat /tmp/vim.pid)" -o vim.img --kill   (from another terminal)
  ckpt restore vim.img --shell-job        later, in any terminal: the same screen

ckpt run exits with CMD's status once CMD has exited and no process holds its
terminal any more. It is a child subreaper: daemons that CMD starts stay in
its tree.)help");

  cli::X11RunOptions x11run;
  auto* x11Cmd = app.add_subcommand("x11", "X11 programs through ckpt's X11 proxy");
  x11Cmd->require_subcommand(1);
  auto* x11RunCmd = x11Cmd->add_subcommand(
      "run", "Run the X client CMD on a proxy display of its own, in front of $DISPLAY");
  x11RunCmd->add_option("--pidfile", x11run.pidfile,
                        "Write the proxy's pid (the root of the tree to dump) to this file");
  x11RunCmd->add_option("command", x11run.command, "CMD [ARGS...], after -- when CMD has options")
      ->required();
  x11RunCmd->positionals_at_end();
  x11RunCmd->footer(R"help(Examples:
  ckpt x11 run -- xterm                   xterm on the proxy's display
  ckpt x11 run --pidfile /tmp/x.pid -- xclock -digital

The proxy takes a free display :N (from :10), gives CMD its own
MIT-MAGIC-COOKIE-1 through DISPLAY and XAUTHORITY (clients without it are
refused), and forwards to $DISPLAY with your own credentials. It exits with
CMD's status once CMD has exited and its last connection has closed.)help");

  cli::X11MoveOptions x11move;
  auto* x11MoveCmd = x11Cmd->add_subcommand(
      "move", "Move the windows of a proxied X client to another X server, live");
  x11MoveCmd
      ->add_option("pid", x11move.pid, "The proxy's pid (what `ckpt x11 run --pidfile` wrote)")
      ->required();
  x11MoveCmd->add_option("--display", x11move.display, "The X server to move to, like :1")
      ->required();
  x11MoveCmd->add_flag("--json", x11move.json, "Print the result as JSON");
  x11MoveCmd->footer(R"help(Examples:
  ckpt x11 run --pidfile /tmp/x.pid -- xlogo     on :0
  ckpt x11 move "$(cat /tmp/x.pid)" --display :1 xlogo now shows on :1

The client's windows, pixmaps, GCs, fonts, cursors, properties and RENDER
objects are made again on the new server and its windows redrawn; the client
itself does not notice. The proxy reaches the new server with XAUTHORITY (or
~/.Xauthority) as this command sees it. Later connections of the client go to
the new server too. Extensions the proxy cannot carry (MIT-SHM, GLX, XKEYBOARD,
XInputExtension, RANDR, ...) are hidden from the client from the start.)help");

  cli::VncRunOptions vncRun;
  cli::VncSnapshotOptions vncSnap;
  auto* vncCmd = app.add_subcommand("vnc", "VNC desktops that ckpt hibernates whole");
  vncCmd->require_subcommand(1);
  auto* vncRunCmd = vncCmd->add_subcommand(
      "run", "Start a VNC desktop (Xvnc and SESSION) behind a gateway that viewers connect to");
  vncRunCmd->add_option_function<std::string>(
      "--display",
      [&](const std::string& d) {
        int n = -1, used = 0;
        if (std::sscanf(d.c_str(), ":%d%n", &n, &used) != 1 || size_t(used) != d.size() || n < 0 ||
            n > 32767)
          throw CLI::ValidationError("--display", "expected :N, got '" + d + "'");
        vncRun.display = n;
      },
      "X display :N of the desktop (default: the first free one)");
  vncRunCmd->add_option("--rfbport", vncRun.rfbport, "Port viewers connect to (default 5900+N)")
      ->check(CLI::Range(1, 65535));
  vncRunCmd->add_option("--geometry", vncRun.geometry, "Screen size WxH (default 1024x768)");
  vncRunCmd->add_option("--depth", vncRun.depth, "Colour depth: 16, 24 (default) or 32");
  vncRunCmd->add_option("--password-file", vncRun.passwordFile,
                        "Viewers must give the password on this file's first line (VNC "
                        "authentication: its first 8 characters count); without it, no "
                        "password and viewers from this machine only");
  vncRunCmd->add_option("--pidfile", vncRun.pidfile,
                        "Write the desktop's pid (the root of the tree to dump) to this file");
  vncRunCmd->add_option("session", vncRun.session,
                        "SESSION [ARGS...] run on the desktop, after -- (default: twm and an "
                        "xterm)");
  vncRunCmd->positionals_at_end();
  vncRunCmd->footer(R"help(Examples:
  ckpt vnc run --pidfile /tmp/desk.pid -- startxfce4
  vncviewer localhost:5901                  (the port is printed at start)
  ckpt dump "$(cat /tmp/desk.pid)" -o desk.img --kill
  ckpt restore desk.img --detach            viewers see the same desktop again

The desktop (Xvnc and SESSION) is one tree, a child of ckpt vnc run, that
`ckpt dump` saves whole. ckpt vnc run itself is the gateway: viewers stay
connected to it while the desktop is dumped, killed and restored (they see
the last picture until it is back), and it reconnects to the desktop by
itself. It exits with SESSION's status when SESSION ends by itself, and
stops the desktop on Ctrl-C (SIGINT), SIGTERM or SIGHUP. A desktop killed by
a dump keeps it waiting for the restore.)help");
  auto* vncSnapCmd =
      vncCmd->add_subcommand("snapshot", "Save a picture of a VNC desktop (over RFB) as PNG");
  vncSnapCmd
      ->add_option("address", vncSnap.address,
                   ":N (port 5900+N here), HOST:PORT, or the path of a unix socket")
      ->required();
  vncSnapCmd->add_option("-o,--output", vncSnap.output, "PNG file to write")->required();
  vncSnapCmd->add_option("--password-file", vncSnap.passwordFile,
                         "The VNC password, on this file's first line");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version end here too, with 0; every mistake exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  }
  log::setLevel(quiet            ? log::Level::Error
                : verbosity >= 2 ? log::Level::Debug
                : verbosity == 1 ? log::Level::Info
                                 : log::Level::Warn);
  try {
    if (*dumpCmd) return cli::dumpCommand(dump);
    if (*restoreCmd) return cli::restoreCommand(restore);
    if (*inspectCmd) return cli::inspectCommand(inspectDir, inspectJson, inspectThumbnail);
    if (*lsCmd) return cli::lsCommand(lsDir, lsJson);
    if (*checkCmd && !checkImage.empty()) return cli::checkImageCommand(checkImage, checkJson);
    if (*checkCmd) return cli::checkCommand(checkJson, checkHost);
    if (*migrateCmd) return cli::migrateCommand(migrate);
    if (*runCmd) return cli::runCommand(run);
    if (*x11RunCmd) return cli::x11RunCommand(x11run);
    if (*x11MoveCmd) return cli::x11MoveCommand(x11move);
    if (*vncRunCmd) return cli::vncRunCommand(vncRun);
    if (*vncSnapCmd) return cli::vncSnapshotCommand(vncSnap);
  } catch (const Error& e) {
    std::fprintf(stderr, "ckpt: %s: %s\n", app.get_subcommands().front()->get_name().c_str(),
                 e.what());
    return 1;
  }
  return 2;
}
