#!/bin/sh
# Runs every benchmark (tests/bench/bench-*.sh) against one build directory.
# Benchmarks report figures; they are not pass/fail tests.
# Usage: run-bench.sh BUILD
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
rc=0
for b in tests/bench/bench-*.sh; do
	[ -f "$b" ] || continue
	echo "# $(basename "$b" .sh)"
	sh "$b" "$B" || rc=1
done
exit $rc
