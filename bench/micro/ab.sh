#!/usr/bin/env bash
# A change measured before it is kept: one model served from a base commit and from the working
# tree, interleaved run by run (base, new, base, new, …) so the host's drift hits both alike,
# driven by the C client (bench/validate/echo-client.c, busy-polling on CPU 0) with the server on
# CPU 1, as make bench places them. Per run: server CPU per request (utime+stime of the server's
# process tree from /proc over the client's window), throughput, p50 and p99; at the end, per
# concurrency, the median over rounds of new ÷ base, each ratio taken within its round.
#
#   bash bench/micro/ab.sh [--base REF] [--model NAME] [--rounds N] [--seconds S] [--connections "1 32"]
#
# Defaults: --base HEAD, --model offload, --rounds 5, --seconds 4, --connections "1 32". The base
# is checked out in a temporary git worktree (removed on exit) that shares this checkout's
# node_modules and toolchain. Takes rounds × 2 × connections × (seconds + 2.5) s.
# Exit 0 once measured (or skipped: no C compiler or taskset, said so), 1 on failure, 2 on bad usage.
set -u
cd "$(dirname "$0")/../.."
root=$PWD
usage='usage: bash bench/micro/ab.sh [--base REF] [--model NAME] [--rounds N] [--seconds S] [--connections "1 32"]'
base=HEAD model=offload rounds=5 secs=4 conns="1 32"
while [ $# -gt 0 ]; do
  case $1 in
    --base) base=${2:-}; shift 2 || break ;;
    --model) model=${2:-}; shift 2 || break ;;
    --rounds) rounds=${2:-}; shift 2 || break ;;
    --seconds) secs=${2:-}; shift 2 || break ;;
    --connections) conns=${2:-}; shift 2 || break ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "ab: unknown argument '$1'" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
int() { [[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] || { echo "ab: $1: expected a whole number ≥ $3, got '$2'" >&2; echo "$usage" >&2; exit 2; }; }
int --rounds "$rounds" 1
int --seconds "$secs" 1
for c in $conns; do int --connections "$c" 1; done
[ -n "$conns" ] || { echo "ab: --connections: expected one or more whole numbers" >&2; exit 2; }
node=$root/.toolchain/bin/node
[ -x "$node" ] || { echo "ab: run make setup first (no $node)" >&2; exit 2; }
models=$("$node" --input-type=module -e "import { MODEL_NAMES } from './src/models/registry.ts'; console.log(MODEL_NAMES.join(' '))") || exit 1
[[ " $models " == *" $model "* ]] || { echo "ab: --model: unknown model '$model'; choose from: $models" >&2; exit 2; }
rev=$(git rev-parse --verify --quiet "$base^{commit}") || { echo "ab: --base: '$base' is not a commit here" >&2; exit 2; }
tool=ab
. bench/micro/c-client.sh

tmp=$(mktemp -d)
tree=$tmp/base
srv=
cleanup() {
  [ -n "$srv" ] && { pkill -KILL -P "$srv" 2>/dev/null; kill -KILL "$srv" 2>/dev/null; }
  git -C "$root" worktree remove --force "$tree" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
git worktree add --quiet --detach "$tree" "$rev" || exit 1
ln -s "$root/node_modules" "$tree/node_modules"
ln -s "$root/.toolchain" "$tree/.toolchain"
tick=$(getconf CLK_TCK)
# CPU ticks of a process and its descendants (a process model's children do the work).
tree_ticks() {
  local pids="$1" all=$1 p kids
  while [ -n "$pids" ]; do
    kids=
    for p in $pids; do kids="$kids $(cat /proc/"$p"/task/*/children 2>/dev/null)"; done
    pids=$(echo $kids)
    all="$all $pids"
  done
  for p in $all; do awk '{print $14+$15}' /proc/"$p"/stat 2>/dev/null; done | awk '{s+=$1} END {print s+0}'
}

echo "ab: $model, base $(git rev-parse --short "$rev") vs the working tree of $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' (dirty)'); $rounds rounds × c = $conns, ${secs} s windows"
printf '%-5s %5s %5s %12s %10s %9s %9s\n' side round c 'cpu/req µs' 'req/s' 'p50 µs' 'p99 µs' | tee "$tmp/rows"
for r in $(seq 1 "$rounds"); do
  for c in $conns; do
    for side in base new; do
      dir=$root
      [ "$side" = base ] && dir=$tree
      (cd "$dir" && exec taskset -c 1 "$node" src/cli.ts serve --model "$model" --port 0 --log-level warn >"$tmp/log" 2>&1) &
      srv=$!
      server_port "$tmp/log" "the $side server"
      taskset -c 0 "$client" --port "$port" --connections "$c" --payload 64 --warmup 1 --duration "$secs" --busy-poll >"$tmp/out.json" &
      cl=$!
      sleep 1
      t0=$(tree_ticks "$srv")
      sleep "$secs"
      t1=$(tree_ticks "$srv")
      wait "$cl" || { echo "ab: the C client failed against the $side server"; exit 1; }
      kill "$srv"; wait "$srv" 2>/dev/null; srv=
      "$node" -e '
        const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        const [side, r, c, ticks, hz] = process.argv.slice(2);
        const cpu = (Number(ticks) / Number(hz)) * 1e6 / d.requests;
        console.log(`${side.padEnd(5)} ${r.padStart(5)} ${c.padStart(5)} ${cpu.toFixed(1).padStart(12)} ${d.throughput.toFixed(0).padStart(10)} ${d.p50Us.toFixed(1).padStart(9)} ${d.p99Us.toFixed(0).padStart(9)}`);
      ' "$tmp/out.json" "$side" "$r" "$c" $((t1 - t0)) "$tick" | tee -a "$tmp/rows"
    done
  done
done
# new ÷ base within each round, then the median and range over rounds.
"$node" -e '
  const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/));
  const cols = { "cpu/req": 3, "req/s": 4, p50: 5, p99: 6 };
  const by = new Map();
  for (const [side, r, c, ...v] of rows) by.set(`${side} ${r} ${c}`, v.map(Number));
  const med = (a) => { const s = [...a].sort((x, y) => x - y); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
  console.log("\nnew ÷ base, median of the per-round ratios [min–max]:");
  for (const c of [...new Set(rows.map((x) => x[2]))]) {
    const parts = [];
    for (const [name, i] of Object.entries(cols)) {
      const q = [...new Set(rows.map((x) => x[1]))].map((r) => by.get(`new ${r} ${c}`)?.[i - 3] / by.get(`base ${r} ${c}`)?.[i - 3]).filter(Number.isFinite);
      parts.push(`${name} ${med(q).toFixed(3)} [${Math.min(...q).toFixed(2)}–${Math.max(...q).toFixed(2)}]`);
    }
    console.log(`  c=${c}: ${parts.join(", ")}`);
  }
' "$tmp/rows"
