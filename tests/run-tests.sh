#!/bin/sh
# Runs every test and ends with one line "N passed, N failed".
#
# Each test prints TAP-style lines ("ok - name" / "not ok - name"; an
# "ok ... # SKIP reason" line counts as skipped, not passed).  A test
# program that exits non-zero without printing a "not ok" line (a crash, a
# sanitizer report) counts as one more failure.  Usage: run-tests.sh BUILD
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
export DINO_BUILD="$top/$B" DINO_TOP="$top"
out=$(mktemp -d "${TMPDIR:-/tmp}/dino-tests.XXXXXX")
trap 'rm -rf "$out"' EXIT
PY=/usr/bin/python3

passed=0
failed=0
skipped=0
run_one() {
	name=$1
	shift
	log="$out/$(echo "$name" | tr '/' '_').log"
	start=$(date +%s)
	"$@" >"$log" 2>"$log.err" </dev/null
	rc=$?
	p=$(grep '^ok ' "$log" | grep -vc '# SKIP')
	k=$(grep '^ok ' "$log" | grep -c '# SKIP')
	f=$(grep -c '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name exited with status $rc" >>"$log"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + k))
	echo "# $name: $p passed, $f failed, $k skipped ($(($(date +%s) - start))s)"
	if [ "$f" -ne 0 ]; then
		grep '^not ok' "$log"
		echo "# --- stderr of $name (last 40 lines) ---"
		tail -n 40 "$log.err"
	fi
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "$t"
done
for t in tests/integration/test_*.py; do
	[ -f "$t" ] || continue
	run_one "integration/$(basename "$t" .py)" "$PY" "$t"
done
for t in tests/integration/test_*.sh; do
	[ -f "$t" ] || continue
	run_one "integration/$(basename "$t" .sh)" sh "$t"
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
