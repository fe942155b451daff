// Entry point of `ckpt`: parses the command line and runs one command. Every
// error is caught here and printed as one line naming what failed.
#include <CLI/CLI.hpp>

#include <cstdio>

#include "cli/Commands.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "tty/Register.hpp"

int main(int argc, char** argv) {
  using namespace ckpt;
  tty::registerWithCore();
  CLI::App app{"ckpt: checkpoint and restore interactive Linux sessions", "ckpt"};
  app.require_subcommand(1);
  app.set_version_flag("--version", CKPT_VERSION);
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More messages (repeat for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors");

  cli::DumpOptions dump;
  auto* dumpCmd = app.add_subcommand("dump", "Checkpoint the process tree rooted at PID into DIR");
  dumpCmd->add_option("pid", dump.pid, "Root of the tree to checkpoint")->required();
  dumpCmd->add_option("-o,--output", dump.dir, "Image directory to create")->required();
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
  dumpCmd->add_flag("--shell-job", dump.shellJob,
                    "The tree runs on the terminal it was started from (outside the tree): "
                    "save it as the user's terminal, for `restore --shell-job`");
  dumpCmd
      ->add_option("--hook-timeout", dump.hookTimeout,
                   "Seconds each program's hook has to answer (default 10)")
      ->check(CLI::Range(0.001, 86400.0));

  cli::RestoreOptions restore;
  auto* restoreCmd = app.add_subcommand("restore", "Restore the process tree saved in DIR");
  restoreCmd->add_option("dir", restore.dir, "Image directory")->required();
  restoreCmd->add_flag("-d,--detach", restore.detach,
                       "Print the root pid and return once the tree runs");
  restoreCmd
      ->add_flag("--shell-job", restore.shellJob,
                 "Give the tree this terminal, as its foreground job (images dumped with "
                 "--shell-job, or of `ckpt run`)")
      ->excludes("--detach");
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
  restoreCmd
      ->add_option("--hook-timeout", restore.hookTimeout,
                   "Seconds each program's hook has to answer (default 10)")
      ->check(CLI::Range(0.001, 86400.0));

  std::string inspectDir;
  bool inspectJson = false;
  auto* inspectCmd = app.add_subcommand("inspect", "Show what an image holds");
  inspectCmd->add_option("dir", inspectDir, "Image directory")->required();
  inspectCmd->add_flag("--json", inspectJson, "Machine-readable output");

  bool checkJson = false;
  auto* checkCmd = app.add_subcommand("check", "Test each kernel feature ckpt uses");
  checkCmd->add_flag("--json", checkJson, "Machine-readable output");

  cli::RunOptions run;
  auto* runCmd = app.add_subcommand(
      "run", "Run CMD on a terminal of its own that ckpt can repaint after a restore");
  runCmd->add_option("--pidfile", run.pidfile,
                     "Write ckpt run's pid (the root of the tree to dump) to this file");
  runCmd->add_option("command", run.command, "CMD [ARGS...], after -- when CMD has options")
      ->required();
  runCmd->positionals_at_end();  // everything from CMD on is CMD's, its options included
  runCmd->footer(
      "Example:\n"
      "  ckpt run --pidfile /tmp/vim.pid -- vim notes.txt\n"
      "  ckpt dump $(cat /tmp/vim.pid) -o /var/tmp/vim.img --shell-job --kill   (from another "
      "terminal)\n"
      "  ckpt restore --shell-job /var/tmp/vim.img     (later, in any terminal: the same screen)\n"
      "ckpt run exits with CMD's status once CMD has exited and no process holds its\n"
      "terminal any more. It is a child subreaper: daemons that CMD starts stay in its tree.\n");

  CLI11_PARSE(app, argc, argv);
  log::setLevel(quiet            ? log::Level::Error
                : verbosity >= 2 ? log::Level::Debug
                : verbosity == 1 ? log::Level::Info
                                 : log::Level::Warn);
  try {
    if (*dumpCmd) return cli::dumpCommand(dump);
    if (*restoreCmd) return cli::restoreCommand(restore);
    if (*inspectCmd) return cli::inspectCommand(inspectDir, inspectJson);
    if (*checkCmd) return cli::checkCommand(checkJson);
    if (*runCmd) return cli::runCommand(run);
  } catch (const Error& e) {
    std::fprintf(stderr, "ckpt: %s: %s\n", app.get_subcommands().front()->get_name().c_str(),
                 e.what());
    return 1;
  }
  return 2;
}
