# Sourced by the bench/micro drivers that time a server with the C client: sets $client to
# bench/validate/echo-client.c built as make bench-validate builds it (bench/validate/c-client.ts:
# one compiler search, one set of flags). Without taskset or a C compiler it says so and exits 0
# (skipped, not failed); a failed build exits 1. Needs $node (the toolchain's) and the caller's
# name in $tool, and runs from the repository root. Also defines server_port, which the drivers
# use to find the port of the server they just started.
command -v taskset >/dev/null || { echo "$tool: needs taskset; skipped"; exit 0; }
client=$("$node" --input-type=module -e "
  import { findCompiler, buildClient } from './bench/validate/c-client.ts';
  const c = findCompiler();
  if (!c) process.exit(3);
  console.log(buildClient(c.cc));
")
case $? in
  0) ;;
  3) echo "$tool: no C compiler (cc, gcc or clang); skipped"; exit 0 ;;
  *) exit 1 ;;
esac

# server_port LOG WHAT: waits up to 15 s for the server writing LOG to say it is listening, then
# sets $port to the port it printed (switchboard's "127.0.0.1:PORT", socket-hop.mjs's "port PORT");
# without one it prints the log, naming WHAT, and exits 1.
server_port() {
  for _ in $(seq 1 150); do grep -q 'listening' "$1" && break; sleep 0.1; done
  port=$(grep -oE '(127\.0\.0\.1:|port )[0-9]+' "$1" | head -1 | grep -oE '[0-9]+$')
  [ -n "$port" ] || { echo "$tool: $2 did not start:"; cat "$1"; exit 1; }
}
