# Sourced by the bench/micro drivers that time a server with the C client: sets $client to
# bench/validate/echo-client.c built as make bench-validate builds it (bench/validate/c-client.ts:
# one compiler search, one set of flags). Without taskset or a C compiler it says so and exits 0
# (skipped, not failed); a failed build exits 1. Needs $node (the toolchain's) and the caller's
# name in $tool, and runs from the repository root.
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
