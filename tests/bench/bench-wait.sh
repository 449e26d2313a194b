#!/bin/sh
# Benchmark of wait_spend (issue 5; figures, not a pass/fail test): N agents
# (default 10000) blocked in wait_spend at once, frontend and broker RSS
# from /proc, and from a webhook's arrival to each waiter's answer: single
# decisions (p50/p99), then every remaining spend decided together.
# Targets: RSS of both < 64 MiB; single p99 < 10 ms; together all < 1 s.
# Run as root (service users, RLIMIT_NOFILE).
#
# Two runs: N agents each waiting on its own spend (single decisions, then
# all decided together), and N agents all waiting on one spend (fan-out).
#
# Usage: tests/bench/bench-wait.sh [BUILD] [N] [SINGLES]
set -eu
B=${1:-build}
N=${2:-10000}
SINGLES=${3:-300}
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dino-bench-wait.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# The load tool is not part of the product: built here, not by make.
cc -O2 -std=gnu11 -Wall -Wextra -o "$tmp/waitload" \
    "$top/tests/bench/waitload.c" $(pkg-config --cflags --libs libsodium)
ulimit -n "$(ulimit -Hn)"
for mode in own fanout; do
	echo "# bench-wait: $N agents, mode $mode"
	DINO_BUILD="$top/$B" DINO_TOP="$top" /usr/bin/python3 \
	    "$top/tests/bench/bench_wait.py" "$tmp/waitload" "$N" "$SINGLES" \
	    "$mode"
done
