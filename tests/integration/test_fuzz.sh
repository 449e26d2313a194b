#!/bin/sh
# The fuzz targets under make check: each replays its regression inputs
# (tests/fuzz/regressions/NAME, every crash the fuzzer ever found) and then
# fuzzes for FUZZ_CHECK_SECONDS (3) from its seed corpus, into a scratch
# corpus so nothing checked in changes.  `make check` builds the targets
# (make fuzz-build); a missing one is a failure, not a skip.
set -u
top=${DINO_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
fz="$top/build/fuzz"
secs=${FUZZ_CHECK_SECONDS:-3}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dino-fuzz.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

for src in "$top"/tests/fuzz/fuzz_*.c; do
	n=$(basename "$src" .c)
	n=${n#fuzz_}
	bin="$fz/fuzz_$n"
	if [ ! -x "$bin" ]; then
		echo "not ok - fuzz $n: $bin is not built (make fuzz-build)"
		continue
	fi
	regs=$(find "$top/tests/fuzz/regressions/$n" -type f 2>/dev/null |
	    sort)
	nregs=$(echo "$regs" | grep -c .)
	if [ "$nregs" -gt 0 ]; then
		if "$bin" $regs >"$tmp/$n.reg" 2>&1; then
			echo "ok - fuzz $n: $nregs regression inputs replayed"
		else
			echo "not ok - fuzz $n: a regression input fails again"
			tail -n 30 "$tmp/$n.reg" >&2
		fi
	fi
	mkdir -p "$tmp/$n"
	dict=""
	[ -f "$top/tests/fuzz/$n.dict" ] && dict="-dict=$top/tests/fuzz/$n.dict"
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    $dict -artifact_prefix="$tmp/$n-" "$tmp/$n" \
	    "$top/tests/fuzz/corpus/$n" >"$tmp/$n.log" 2>&1; then
		stats=$(grep -E '^#[0-9]+.*DONE' "$tmp/$n.log" | tail -n 1 |
		    sed 's/^#\([0-9]*\).*\(cov: [0-9]*\).*\(ft: [0-9]*\).*/\1 runs, \2, \3/')
		echo "ok - fuzz $n ($stats)"
	else
		echo "not ok - fuzz $n: a crash; the input is reproduced below"
		grep -E 'ERROR|SUMMARY|contract|#[0-9]+ ' "$tmp/$n.log" |
		    tail -n 20 >&2
		for a in "$tmp/$n"-*; do
			[ -f "$a" ] && od -c "$a" | head -n 20 >&2
		done
	fi
done
