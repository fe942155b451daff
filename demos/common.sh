# What every demo starts with (sourced, after `set -euo pipefail`, with
# DEMO set to the demo's name): the demo becomes a child subreaper, finds
# the ckpt binary, and gets its step headings and helpers.

# A child subreaper (a setting kept across exec), so the demo reaps what it
# orphans at once: a pid held by an unreaped zombie cannot be restored, and
# pid 1 here is slow to reap. Re-executes the demo once.
if [[ -z ${CKPT_DEMO_SUBREAPER:-} ]]; then
  export CKPT_DEMO_SUBREAPER=1
  exec python3 -c '
import ctypes, os, sys
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit(sys.argv[1] + ": PR_SET_CHILD_SUBREAPER failed")
os.execv("/bin/bash", ["bash"] + sys.argv[2:])' "$DEMO" "$0" "$@"
fi

root=$(cd "$(dirname "$0")/.." && pwd)
ckpt=${CKPT:-$root/build/bin/ckpt}
[[ $ckpt == /* ]] || ckpt=$root/$ckpt

step=0
bold= plain=
[[ -t 1 ]] && bold=$'\033[1m' plain=$'\033[0m'
say() { step=$((step + 1)); printf '\n%s== %d. %s%s\n' "$bold" "$step" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { printf '%s: FAILED: %s\n' "$DEMO" "$*" >&2; exit 1; }
# Waits up to $1 tenths of a second for the command after it to succeed.
wait_for() {
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
