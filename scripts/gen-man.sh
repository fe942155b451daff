#!/usr/bin/env bash
# Writes the manual page ckpt(1) to stdout, from the binary's own --help
# (help2man), with every command's --help as a section of its own.
set -euo pipefail
ckpt=$1
extra=$(mktemp)
trap 'rm -f "$extra"' EXIT
{
  echo "[COMMANDS]"
  for cmd in dump restore inspect ls check migrate run "x11 run" "x11 move" "vnc run" "vnc snapshot"; do
    # shellcheck disable=SC2086 # "x11 run", "vnc run": a command and its subcommand
    "$ckpt" $cmd --help >/dev/null 2>&1 || continue
    echo ".SS ckpt $cmd"
    echo ".nf"
    # shellcheck disable=SC2086
    "$ckpt" $cmd --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./'
    echo ".fi"
  done
  cat <<'TXT'
[FILES]
An image is a directory: manifest.json (what the image holds, with
checksums), page files, and the content of pipes and deleted files. It
holds the program's memory, passwords and keys included: ckpt creates it
readable by its owner only.
[SEE ALSO]
The README of the ckpt sources; the tmux plugin in
/usr/share/ckpt/tmux/ckpt.tmux.
TXT
} >"$extra"
help2man --no-info --no-discard-stderr --section=1 \
  --name="checkpoint and restore interactive Linux sessions" \
  --include="$extra" "$ckpt"
