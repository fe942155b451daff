#!/usr/bin/env bash
# Installs the Debian package `make deb` built, checks what it installed,
# and removes it again: the package must install and remove cleanly with apt.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(ls build/ckpt_*_amd64.deb)
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq "./$deb" >/dev/null
trap 'apt-get remove -y -qq ckpt >/dev/null 2>&1 || true' EXIT
/usr/bin/ckpt --version
man -w ckpt
test -x /usr/share/ckpt/tmux/ckpt.tmux
test -f /usr/share/bash-completion/completions/ckpt
/usr/bin/ckpt check >/dev/null
apt-get remove -y -qq ckpt >/dev/null
trap - EXIT
if [ -e /usr/bin/ckpt ] || [ -e /usr/share/ckpt ]; then
  echo "check-deb: files left after apt-get remove" >&2
  exit 1
fi
echo "check-deb: $deb installs and removes cleanly"
