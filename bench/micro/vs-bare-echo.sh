#!/usr/bin/env bash
# A model against the bare Node `net` echo (bench/reference-server.ts: `sock.pipe(sock)`, no
# framing, no limits), the floor under event-loop's CPU per request: both driven by the C client
# (bench/validate/echo-client.c, busy-polling on CPU 0) with the server on CPU 1, interleaved run
# by run so the host's drift hits both alike. Per run: server CPU per request split into user and
# system time (/proc/PID/stat over the client's window), throughput; at the end, per round,
# model ÷ echo. The user-time column is where the model's own JavaScript shows: both servers make
# the same read and write system calls per request.
#
#   bash bench/micro/vs-bare-echo.sh [--model NAME] [--rounds N] [--seconds S] [--connections C]
#
# Defaults: --model event-loop, --rounds 5, --seconds 3, --connections 32. Takes
# rounds × 2 × (seconds + 2.5) s. Exit 0 once measured (or skipped: no C compiler or taskset, said
# so), 1 on failure, 2 on bad usage.
set -u
cd "$(dirname "$0")/../.."
usage='usage: bash bench/micro/vs-bare-echo.sh [--model NAME] [--rounds N] [--seconds S] [--connections C]'
model=event-loop rounds=5 secs=3 conns=32
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=${2:-}; shift 2 || break ;;
    --rounds) rounds=${2:-}; shift 2 || break ;;
    --seconds) secs=${2:-}; shift 2 || break ;;
    --connections) conns=${2:-}; shift 2 || break ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "vs-bare-echo: unknown argument '$1'" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
for v in "--rounds $rounds" "--seconds $secs" "--connections $conns"; do
  set -- $v
  [[ ${2:-} =~ ^[0-9]+$ ]] && [ "$2" -ge 1 ] || { echo "vs-bare-echo: $1: expected a whole number ≥ 1, got '${2:-}'" >&2; echo "$usage" >&2; exit 2; }
done
node=.toolchain/bin/node
[ -x "$node" ] || { echo "vs-bare-echo: run make setup first (no $node)" >&2; exit 2; }
tool=vs-bare-echo
. bench/micro/c-client.sh
tmp=$(mktemp -d)
srv=
cleanup() { [ -n "$srv" ] && { pkill -KILL -P "$srv" 2>/dev/null; kill -KILL "$srv" 2>/dev/null; }; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM
tick=$(getconf CLK_TCK)

echo "vs-bare-echo: $model vs node-net-echo, c=$conns, $rounds rounds, ${secs} s windows (server CPU 1, C client CPU 0, busy-polling)"
printf '%-14s %5s %10s %13s %13s\n' server round 'req/s' 'cpu/req µs' 'user/req µs' | tee "$tmp/rows"
for r in $(seq 1 "$rounds"); do
  for side in echo model; do
    if [ "$side" = echo ]; then
      taskset -c 1 "$node" bench/reference-server.ts --port 0 >"$tmp/log" 2>&1 &
    else
      taskset -c 1 "$node" src/cli.ts serve --model "$model" --port 0 --log-level warn >"$tmp/log" 2>&1 &
    fi
    srv=$!
    server_port "$tmp/log" "the $side server"
    taskset -c 0 "$client" --port "$port" --connections "$conns" --payload 64 --warmup 1 --duration "$secs" --busy-poll >"$tmp/out.json" &
    cl=$!
    # The client's window is [1 s, 1 s + secs] after its start: read the server's CPU just inside it.
    sleep 1.1
    read -r u1 s1 < <(awk '{print $14, $15}' /proc/$srv/stat)
    sleep "$(awk -v s="$secs" 'BEGIN { print s - 0.2 }')"
    read -r u2 s2 < <(awk '{print $14, $15}' /proc/$srv/stat)
    wait "$cl" || { echo "vs-bare-echo: the C client failed against the $side server"; cat "$tmp/out.json"; exit 1; }
    kill "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; srv=
    tp=$(grep -oE '"throughput":[0-9.]+' "$tmp/out.json" | cut -d: -f2)
    awk -v n="$side" -v r="$r" -v tp="$tp" -v u=$((u2 - u1)) -v s=$((s2 - s1)) -v t="$tick" -v w="$secs" \
      'BEGIN { win = w - 0.2; printf "%-14s %5d %10.0f %13.1f %13.1f\n", n, r, tp, (u + s) / t / win / tp * 1e6, u / t / win / tp * 1e6 }' | tee -a "$tmp/rows"
  done
done
echo
echo "$model ÷ node-net-echo, per round (median [min–max]):"
awk '
  $1 == "echo" { tp[$2] = $3; cpu[$2] = $4; usr[$2] = $5 }
  $1 == "model" { rt[++n] = $3 / tp[$2]; rc[n] = $4 / cpu[$2]; du[n] = $5 - usr[$2] }
  function med(a, n,   i, j, t, b) { for (i = 1; i <= n; i++) b[i] = a[i]; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (b[j] < b[i]) { t = b[i]; b[i] = b[j]; b[j] = t }
    return sprintf("%.2f [%.2f–%.2f]", n % 2 ? b[(n + 1) / 2] : (b[n / 2] + b[n / 2 + 1]) / 2, b[1], b[n]) }
  END { printf "  req/s %s, cpu/req %s, user µs/req more than the echo %s\n", med(rt, n), med(rc, n), med(du, n) }
' "$tmp/rows"
