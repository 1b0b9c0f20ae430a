#!/usr/bin/env bash
# make scale-out: the namespaces up, the scenarios (bench/scale-out/run.ts), the namespaces down —
# on success, failure, Ctrl-C or SIGTERM alike (trap), so no namespace, veth link or process is
# left behind. Needs root (ip netns); installs HAProxy with apt if it is missing.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
node=${NODE:-$root/.toolchain/bin/node}

if [ "$(id -u)" -ne 0 ]; then
  echo "make scale-out: needs root (it creates network namespaces and veth pairs); run it as root or with sudo" >&2
  exit 2
fi
for tool in ip sysctl; do
  command -v "$tool" >/dev/null || { echo "make scale-out: '$tool' not found (Debian: apt-get install iproute2 procps)" >&2; exit 4; }
done
if ! command -v haproxy >/dev/null; then
  echo "make scale-out: installing haproxy (apt-get install -y haproxy) …" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy >&2 || { echo "make scale-out: could not install haproxy" >&2; exit 4; }
fi
# A Debian install starts its own haproxy service; ours runs in the balancer namespace only.

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  "$here/netns.sh" down || true
  if "$here/netns.sh" check; then echo "scale-out: cleaned up (no namespace, link or process left)" >&2; fi
  exit "$rc"
}
trap cleanup EXIT

"$here/netns.sh" up
# In the background and waited for, so a signal to this script alone (a supervisor's SIGTERM) is
# handled at once: pass it on, let the runner stop its servers, then the EXIT trap cleans up.
"$node" "$root/bench/scale-out/run.ts" "$@" &
child=$!
trap 'kill -INT $child 2>/dev/null || true; wait $child || true; exit 130' INT
trap 'kill -TERM $child 2>/dev/null || true; wait $child || true; exit 143' TERM
wait $child
