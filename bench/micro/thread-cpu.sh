#!/usr/bin/env bash
# Where a server's CPU goes, thread by thread: one model served on CPU 1, driven by the C client
# (bench/validate/echo-client.c, busy-polling on CPU 0) at c connections, and each server thread's
# user and system CPU and its voluntary and involuntary context switches per request, from
# /proc/PID/task/*/{stat,status} over the window. A thread that sleeps more than once per request
# (voluntary switches) waits on something besides its socket: see docs/PERFORMANCE.md for how
# offload's main thread was read this way. Threads only (a process model's children are not
# followed: use ab.sh for their tree's total).
#
#   bash bench/micro/thread-cpu.sh [--model NAME] [--connections C] [--seconds S]
#
# Defaults: offload, 1, 3. Exit 0 once measured (or skipped: no C compiler or taskset, said so),
# 1 on failure, 2 on bad usage.
set -u
cd "$(dirname "$0")/../.."
usage='usage: bash bench/micro/thread-cpu.sh [--model NAME] [--connections C] [--seconds S]'
model=offload conns=1 secs=3
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=${2:-}; shift 2 || break ;;
    --connections) conns=${2:-}; shift 2 || break ;;
    --seconds) secs=${2:-}; shift 2 || break ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "thread-cpu: unknown argument '$1'" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
int() { [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || { echo "thread-cpu: $1: expected a whole number ≥ $3, got '$2'" >&2; echo "$usage" >&2; exit 2; }; }
int --connections "$conns" 1
int --seconds "$secs" 2
node=$PWD/.toolchain/bin/node
[ -x "$node" ] || { echo "thread-cpu: run make setup first (no $node)" >&2; exit 2; }
models=$("$node" --input-type=module -e "import { MODEL_NAMES } from './src/models/registry.ts'; console.log(MODEL_NAMES.join(' '))") || exit 1
[[ " $models " == *" $model "* ]] || { echo "thread-cpu: --model: unknown model '$model'; choose from: $models" >&2; exit 2; }
tool=thread-cpu
. bench/micro/c-client.sh

tmp=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && { pkill -KILL -P "$srv" 2>/dev/null; kill -KILL "$srv" 2>/dev/null; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
(exec taskset -c 1 "$node" src/cli.ts serve --model "$model" --port 0 --log-level warn >"$tmp/log" 2>&1) &
srv=$!
server_port "$tmp/log" "the server"
# The client warms up for 1 s and measures for $secs; the threads are read over its last $secs - 1.
taskset -c 0 "$client" --port "$port" --connections "$conns" --payload 64 --warmup 1 --duration "$secs" --busy-poll >"$tmp/out.json" &
cl=$!
snap() {
  for t in /proc/"$srv"/task/*; do
    echo "$(basename "$t") $(tr ' ' _ <"$t"/comm) $(awk '{print $14, $15}' "$t"/stat) $(awk '/^(voluntary|nonvoluntary)_ctxt/ {printf "%s ", $2}' "$t"/status)"
  done 2>/dev/null | sort
}
sleep 1.2
t0=$(date +%s.%N)
snap >"$tmp/s0"
sleep $((secs - 1))
snap >"$tmp/s1"
t1=$(date +%s.%N)
wait "$cl" || { echo "thread-cpu: the C client failed"; exit 1; }
"$node" -e '
  const fs = require("fs");
  const [dir, model, c, t0, t1, hz] = process.argv.slice(1);
  const d = JSON.parse(fs.readFileSync(`${dir}/out.json`, "utf8"));
  const read = (f) => new Map(fs.readFileSync(`${dir}/${f}`, "utf8").trim().split("\n").map((l) => l.split(" ")).map(([tid, comm, ...v]) => [tid, { comm, v: v.map(Number) }]));
  const a = read("s0"), b = read("s1");
  const reqs = d.throughput * (Number(t1) - Number(t0)); // requests in the threads window, at the client measured rate
  console.log(`thread-cpu: ${model}, c=${c}: ${d.throughput.toFixed(0)} req/s, p50 ${d.p50Us.toFixed(1)} µs, p99 ${d.p99Us.toFixed(0)} µs (C client, server on CPU 1)`);
  console.log("thread                 user µs/req  sys µs/req  voluntary sw/req  involuntary sw/req");
  for (const [tid, x] of b) {
    const y = a.get(tid); if (!y) continue;
    const dv = x.v.map((v, i) => v - y.v[i]);
    if (dv.every((v) => v === 0)) continue;
    const us = (ticks) => ((ticks / Number(hz)) * 1e6) / reqs;
    console.log(`${(x.comm + " " + tid).padEnd(22)} ${us(dv[0]).toFixed(1).padStart(11)} ${us(dv[1]).toFixed(1).padStart(11)} ${(dv[2] / reqs).toFixed(2).padStart(17)} ${(dv[3] / reqs).toFixed(2).padStart(19)}`);
  }
' "$tmp" "$model" "$conns" "$t0" "$t1" "$(getconf CLK_TCK)"
