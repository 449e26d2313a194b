#!/bin/sh
# Runs each named fuzz target for SECONDS on its working corpus
# (FZ/corpus/NAME, seeded from tests/fuzz/corpus/NAME), with its dictionary,
# after replaying tests/fuzz/regressions/NAME.  Two targets run at a time
# (FUZZ_JOBS), each bounded by -max_total_time; a crash leaves its input in
# FZ/artifacts and fails the run.  Prints one line of final stats a target.
# Usage: run-fuzz.sh FZ SECONDS NAME...
set -u
fz=$1
secs=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
jobs=${FUZZ_JOBS:-2}
mkdir -p "$fz/artifacts" "$fz/logs"

run() {
	n=$1
	bin="$fz/fuzz_$n"
	log="$fz/logs/$n.log"
	mkdir -p "$fz/corpus/$n"
	set -- "$top/tests/fuzz/corpus/$n"
	[ -f "$top/tests/fuzz/$n.dict" ] && dict="-dict=$top/tests/fuzz/$n.dict" ||
	    dict=""
	regs=$(find "$top/tests/fuzz/regressions/$n" -type f 2>/dev/null)
	if [ -n "$regs" ] && ! "$bin" $regs >"$log.reg" 2>&1; then
		echo "FAIL fuzz $n: a regression input fails again"
		tail -n 20 "$log.reg"
		return 1
	fi
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 $dict -artifact_prefix="$fz/artifacts/$n-" \
	    "$fz/corpus/$n" "$@" >"$log" 2>&1
	rc=$?
	stats=$(grep -E '^#[0-9]+.*DONE' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	if [ "$rc" -ne 0 ]; then
		echo "FAIL fuzz $n (status $rc): see $log"
		grep -E 'ERROR|SUMMARY|contract' "$log" | head -n 5
		return 1
	fi
	echo "ok fuzz $n: ${execs:-?} executions; $stats"
}

status=0
pids=""
names="$*"
for n in $names; do
	rm -f "$fz/logs/$n.result"
done
for n in $names; do
	run "$n" >"$fz/logs/$n.result" 2>&1 &
	pids="$pids $!"
	set -- $pids
	if [ "$#" -ge "$jobs" ]; then
		wait "$1" || status=1
		shift
		pids="$*"
	fi
done
for p in $pids; do
	wait "$p" || status=1
done
for n in $names; do
	cat "$fz/logs/$n.result"
done
exit $status
