#!/usr/bin/env bash
# Where offload's lone request goes, measured from outside: server CPU per request and p50 at one
# connection, by the C client (bench/validate/echo-client.c), for switchboard's event-loop and
# offload and for the bare servers of socket-hop.mjs (no hop, a bare piscina task, a bare
# one-slot shared-memory hop, the same hop through src/shared/ring.ts), interleaved round by round so the host's drift hits all alike. Server on
# CPU 1, client on CPU 0 (as make bench places them). CPU is the server process's utime+stime
# (/proc/PID/stat, all its threads) over the client's measured window.
#
#   bash bench/micro/socket-hop.sh [rounds=3] [seconds=4]
#
# Takes rounds × 6 × (seconds + 2.5) s. Needs a C compiler and taskset; without them it says so, exits 0.
set -u
cd "$(dirname "$0")/../.."
rounds=${1:-3}
secs=${2:-4}
node=.toolchain/bin/node
[ -x "$node" ] || { echo "socket-hop: run make setup first (no $node)" >&2; exit 2; }
tool=socket-hop
. bench/micro/c-client.sh
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && kill "$srv" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
tick=$(getconf CLK_TCK)
servers=(event-loop offload net piscina shared ring)
printf '%-10s %5s %12s %10s %9s\n' server round 'cpu/req µs' 'req/s' 'p50 µs'
for r in $(seq 1 "$rounds"); do
  for s in "${servers[@]}"; do
    case $s in
      event-loop|offload) taskset -c 1 "$node" src/cli.ts serve --model "$s" --port 0 >"$tmp/log" 2>&1 & ;;
      *) taskset -c 1 "$node" bench/micro/socket-hop.mjs --mode "$s" --port 0 >"$tmp/log" 2>&1 & ;;
    esac
    srv=$!
    server_port "$tmp/log" "$s"
    taskset -c 0 "$client" --port "$port" --connections 1 --payload 64 --warmup 1 --duration "$secs" >"$tmp/out.json" &
    cl=$!
    sleep 1
    t0=$(awk '{print $14+$15}' /proc/$srv/stat)
    sleep "$secs"
    t1=$(awk '{print $14+$15}' /proc/$srv/stat)
    wait $cl
    kill "$srv"; wait "$srv" 2>/dev/null; srv=
    "$node" -e '
      const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const [s, r, ticks, hz] = process.argv.slice(2);
      const cpu = (Number(ticks) / Number(hz)) * 1e6 / d.requests;
      console.log(`${s.padEnd(10)} ${r.padStart(5)} ${cpu.toFixed(1).padStart(12)} ${d.throughput.toFixed(0).padStart(10)} ${d.p50Us.toFixed(1).padStart(9)}`);
    ' "$tmp/out.json" "$s" "$r" $((t1 - t0)) "$tick"
  done
done
