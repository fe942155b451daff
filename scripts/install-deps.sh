#!/usr/bin/env bash
# Installs the Debian 12 packages that ckpt's build, tests and demos need.
# Idempotent: when every package is present it changes nothing and prints nothing.
set -euo pipefail

# The one list. A later layer adds one line here (and nothing elsewhere).
PACKAGES=(
  # build
  build-essential g++ cmake pkg-config
  nlohmann-json3-dev libcli11-dev libfmt-dev libxxhash-dev libzstd-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev
  # formatting (`make format`), the manual page, bash completion (tested)
  clang-format help2man bash-completion
  # the fuzz targets (`make fuzz`: libFuzzer)
  clang
  # demos and the programs the tests drive
  python3 procps bash coreutils
  # the real servers of the core tests (Xvfb with xlogo and xclock; xwd, xwininfo)
  xvfb x11-apps x11-utils
  # tty layer, and the terminal programs its tests run
  tmux screen libvterm-dev libncurses-dev vim less htop
  # x11proxy layer: xcb and its protocol XML (tables generated at build time), the
  # clients its tests run (zenity: a GTK 3 one), xdotool to type into them, xclip
  # to paste, netpbm for the demo's PNGs
  libxcb1-dev libxcb-shape0-dev libxcb-xfixes0-dev xcb-proto xterm xdotool xclip netpbm zenity
  # vnc layer: TigerVNC's Xvnc, libvncserver/libvncclient (the gateway, snapshots),
  # libpng (thumbnails), and the window manager and clients of its desktops
  tigervnc-standalone-server libvncserver-dev libpng-dev twm
  # `ckpt migrate`: its tests start a private sshd on loopback as the far host
  openssh-client openssh-server
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$pkg")
done
((${#missing[@]} == 0)) && exit 0

sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "install-deps: these packages are missing and installing them needs root:" \
      "${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

apt_install() {
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$log" 2>&1
}

# Lists that are absent or stale show up as unknown packages, no candidate, or
# 404s for files that a newer list would name: only then fetch the lists.
lacks_lists() {
  grep -qE 'Unable to locate package|has no installation candidate|Failed to fetch|404' "$log"
}

if ! apt_install; then
  if lacks_lists; then
    "${sudo[@]}" apt-get update -qq -o DPkg::Lock::Timeout=300 >"$log" 2>&1 || {
      cat "$log" >&2
      echo "install-deps: apt-get update failed" >&2
      exit 1
    }
    apt_install || {
      cat "$log" >&2
      echo "install-deps: apt-get install failed" >&2
      exit 1
    }
  else
    cat "$log" >&2
    echo "install-deps: apt-get install failed" >&2
    exit 1
  fi
fi
