#!/usr/bin/env bash
# The simulated hosts of `make scale-out`: four network namespaces joined by veth pairs, with
# addresses from 198.18.0.0/15 (RFC 2544's benchmarking range) and no route out of them.
#
#   client  sbso-cli   198.18.0.2 ──veth── 198.18.0.1  sbso-lb  (HAProxy, forwards between its links)
#   server1 sbso-srv1  198.18.1.2 ──veth── 198.18.1.1  sbso-lb
#   server2 sbso-srv2  198.18.2.2 ──veth── 198.18.2.1  sbso-lb
#
# Each host routes only 198.18.0.0/15, through the balancer: nothing reaches the machine's own
# interfaces or the Internet, and the machine's routing tables are never touched.
#   netns.sh up     create (after removing any leftovers of an earlier run)
#   netns.sh down   remove every namespace and link it made, killing what still runs inside
#   netns.sh check  exit 0 if none of them is left
set -euo pipefail
PREFIX=sbso
HOSTS=(cli srv1 srv2)
NETS=(0 1 2)

down() {
  for ns in $(ip netns list | awk '{print $1}' | grep "^${PREFIX}-" || true); do
    # Whatever still runs inside (a server, HAProxy, an agent) must not outlive its host.
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  # A veth end left in the root namespace (a run killed mid-way through `up`).
  for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep "^${PREFIX}-" || true); do
    ip link del "$link" 2>/dev/null || true
  done
}

up() {
  down
  ip netns add "${PREFIX}-lb"
  ip -n "${PREFIX}-lb" link set lo up
  ip netns exec "${PREFIX}-lb" sysctl -qw net.ipv4.ip_forward=1
  for i in "${!HOSTS[@]}"; do
    local host=${HOSTS[$i]} net=${NETS[$i]} ns="${PREFIX}-${HOSTS[$i]}"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "${PREFIX}-${host}" type veth peer name "${PREFIX}-lb-${host}"
    ip link set "${PREFIX}-${host}" netns "$ns"
    ip link set "${PREFIX}-lb-${host}" netns "${PREFIX}-lb"
    ip -n "$ns" addr add "198.18.${net}.2/24" dev "${PREFIX}-${host}"
    ip -n "${PREFIX}-lb" addr add "198.18.${net}.1/24" dev "${PREFIX}-lb-${host}"
    ip -n "$ns" link set "${PREFIX}-${host}" up
    ip -n "${PREFIX}-lb" link set "${PREFIX}-lb-${host}" up
    # Only the benchmarking range, through the balancer host: no default route anywhere.
    ip -n "$ns" route add 198.18.0.0/15 via "198.18.${net}.1"
  done
  # Many connections through one balancer: room for ephemeral ports and a deep accept queue.
  for ns in $(ip netns list | awk '{print $1}' | grep "^${PREFIX}-"); do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" net.core.somaxconn=4096
  done
}

check() {
  local left
  left=$(ip netns list | awk '{print $1}' | grep "^${PREFIX}-" || true)
  left+=$(ip -o link show | awk -F': ' '{print $2}' | grep "^${PREFIX}-" || true)
  if [ -n "$left" ]; then echo "left behind: $left" >&2; exit 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  check) check ;;
  *) echo "usage: $0 up|down|check" >&2; exit 2 ;;
esac
