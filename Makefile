# switchboard — two commands on a fresh machine:
#   make bench   run every model through every workload; writes results/
#   make test    the test suite (conformance suite per model + unit tests)
# Each installs what it needs: a Node that can move sockets to worker threads (yours if it can,
# else a pinned LTS from the npm registry into .toolchain/) and the npm dependencies.

SHELL := /bin/bash
ROOT  := $(CURDIR)
TC    := $(ROOT)/.toolchain
NODE  := $(TC)/bin/node
# Everything below (npm scripts, vitest, forked children) sees the chosen node first on PATH.
export PATH := $(TC)/bin:$(PATH)
# Node's on-disk compile cache (type-stripped and compiled code, keyed by Node version and file
# contents) for every node started below: a server starts in ≈ half the time with it warm
# (src/cli.ts 0.41 → 0.22 s here). Unset with NODE_DISABLE_COMPILE_CACHE=1.
export NODE_COMPILE_CACHE ?= $(or $(TMPDIR),/tmp)/node-compile-cache

VITEST := $(NODE) node_modules/vitest/vitest.mjs
TSC    := $(NODE) node_modules/typescript/bin/tsc

.PHONY: help setup test typecheck profile bench bench-quick bench-ci bench-ci-sensitivity bench-baseline bench-validate bench-switch reliability scale-out serve clean
.DEFAULT_GOAL := help

help:
	@echo "make test        run the test suite (installs Node >= 24 and dependencies if needed)"
	@echo "make bench       benchmark every model (QUICK=1 for a short run; BENCH_ARGS=--help for flags)"
	@echo "make reliability fault tests at full scale → results/reliability.md (≤ 25 min; QUICK=1 ≤ 5 min)"
	@echo "make serve       run the server: make serve ARGS='--model event-loop --port 7070'"
	@echo "make bench-ci    CI regression report: paired A/B against BASE (default: the commit results/baseline.json names; BASE=none: the file itself)"
	@echo "make bench-ci-sensitivity  proof that bench-ci sees 10%: repeated same-commit and slowed runs → results/ci-sensitivity.md"
	@echo "make bench-validate  the load generator checked against an independent C client and a bare Node one → results/validate.md (≈ 10 min)"
	@echo "make bench-switch  live model switches and rolling restarts under load → results/switch-under-load.md (≈ 2 min)"
	@echo "make scale-out   (root) N instances behind HAProxy in network namespaces → results/scale-out.md (≈ 2 min)"
	@echo "make profile MODEL=offload [WORKLOAD=echo-64B] [PROFILE_ARGS=…]  where a model's server CPU goes (V8 profiles of every thread and child)"
	@echo "make typecheck   tsc --noEmit over src, bench, test"
	@echo "./bin/switchboard --help   the CLI, once either make test or make bench has run"

# The toolchain stamp: scripts/ensure-node.sh is idempotent and fast when nothing changed.
$(NODE): scripts/ensure-node.sh scripts/can-transfer-socket.mjs
	@scripts/ensure-node.sh
	@touch -h $(NODE)

node_modules/.installed: package-lock.json $(NODE)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Each worker and child entry, and the built-in handler, bundled into one module each
# (scripts/build-entries.ts): threads and children start ≈ 12% (thread) and ≈ 6% (process) faster
# in the churn workload for each of the two (entries, then the handler). Rebuilt whenever
# a source changes; a process never uses a stale bundle (src/models/entries.ts checks hashes).
ENTRY_SOURCES := $(shell find src -name '*.ts' 2>/dev/null)
.build/manifest.json: node_modules/.installed scripts/build-entries.ts $(ENTRY_SOURCES)
	@$(NODE) scripts/build-entries.ts

setup: node_modules/.installed .build/manifest.json

test: setup
	$(VITEST) run

typecheck: setup
	$(TSC) -p tsconfig.json

# V8 CPU profiles of one model under one benchmark workload, only the measured window counted,
# per role (main thread, worker threads, children): docs/PERFORMANCE.md quotes its tables.
profile: setup
	@test -n "$(MODEL)" || { echo "make profile: name a model: MODEL=event-loop|thread|thread-pool|offload|process|process-pool" >&2; exit 2; }
	$(NODE) bench/profile/run.ts --model $(MODEL) $(if $(WORKLOAD),--workload $(WORKLOAD)) $(PROFILE_ARGS)

# idle-10k holds 10,000 sockets in the load generator: raise the soft open-file limit to the hard
# one for this recipe (the harness scales idle-10k down, and says so, if it is still too low).
# Flags: make bench BENCH_ARGS="--help"; exit 0 = run written (failed cells recorded), 1 = harness failed.
bench: setup
	@ulimit -n "$$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true; \
	$(NODE) bench/run.ts $(if $(QUICK),--quick) $(BENCH_ARGS)

# CI regression report: echo-64B c=32, work-1ms, churn for every model. Paired A/B (default): the
# base commit's servers and this checkout's in interleaved fresh-server rounds; BENCH_CI_ARGS=
# "--design held": both up side by side, load alternating in 1 s slices (bench/ci/held.ts, far
# more sensitive); BASE=none: fresh-server rounds against results/baseline.json.
# → results/ci-report.md. Exit 1 only on a confident regression.
# BENCH_CI_ARGS="--help" for flags; BENCH_CI_ARGS="--slowdown-us 100" slows every model's handler
# by 100 µs per request (a test aid: the report must then exit 1).
bench-ci: setup
	$(NODE) bench/ci/run.ts $(if $(BASE),--base $(BASE)) $(BENCH_CI_ARGS)

# Issue 18's proof: paired bench-ci runs against this very commit, plain (false alarms) and with
# the handler slowed by 5/10/25/50% of an echo request's CPU → results/ci-sensitivity.md (+ .json,
# appended run by run, so it accumulates across sittings). ≈ 10 min per run; --budget MIN bounds one.
bench-ci-sensitivity: setup
	$(NODE) bench/ci/sensitivity.ts $(BENCH_CI_SENSITIVITY_ARGS)

# Rewrite the baseline on purpose (then commit results/baseline.json).
bench-baseline: setup
	$(NODE) bench/ci/run.ts --write-baseline $(BENCH_CI_ARGS)

# The instrument checked: the load generator and a C client (bench/validate/echo-client.c, built
# with cc into .toolchain/validate/) on the same servers, interleaved → results/validate.md.
# Exit 0 = report written (a missed target is reported); 1 = the tool failed. No cc: says so, exit 0.
bench-validate: setup
	$(NODE) bench/validate/run.ts $(if $(QUICK),--quick) $(BENCH_VALIDATE_ARGS)

# Issue 8: every fault against every model; writes results/reliability.md (+ .json).
# ≤ 25 min on 2 cores, QUICK=1 ≤ 5 min; RELIABILITY_ARGS='--models event-loop,thread --faults fuzz,drain --seed 42'.
# Floods and slowloris open thousands of sockets: raise the soft fd limit (the server inherits it).
reliability: setup
	ulimit -n 65536 2>/dev/null || ulimit -n $$(ulimit -Hn); $(NODE) reliability/run.ts $(if $(QUICK),--quick) $(RELIABILITY_ARGS)

# Live changes measured: model switches every 2 s and pool restarts under 64 churning sessions.
# Exit 0 = nothing refused, lost or answered with an ERROR frame; 1 = something was (see the report).
bench-switch: setup
	$(NODE) bench/switch/run.ts $(BENCH_SWITCH_ARGS)

# Issue 17: instances on two simulated hosts behind HAProxy (PROXY v2, leastconn, INFO health check),
# benched from a simulated client host; 1, 2, 4 instances, one killed, one drained. Root only (ip netns).
# SCALE_OUT_ARGS="--help" for flags. Exit 0 = report written, 1 = failed, 2 = not root / bad flags.
scale-out: setup
	@ulimit -n 65536 2>/dev/null || true; NODE=$(NODE) scripts/scale-out/run.sh $(SCALE_OUT_ARGS)

serve: setup
	$(NODE) src/cli.ts serve $(ARGS)

clean:
	rm -rf node_modules .toolchain .build
