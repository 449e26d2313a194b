#!/bin/sh
# make valgrind: every unit test (BUILD/tests/test_*) under valgrind's
# memcheck, failing on any error or leak.  Unit tests start no daemon.
# Confinement is off only here: test_frontend_confine exists to install
# seccomp filters in forked children, and valgrind cannot run a process
# under a filter that does not list its own syscalls, so that one test is
# left to make check (and named below, not counted as passed).
# Prints TAP lines and "N passed, N failed".  Usage: valgrind.sh BUILD
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
out=$(mktemp -d "${TMPDIR:-/tmp}/dino-valgrind.XXXXXX")
trap 'rm -rf "$out"' EXIT
export DINO_BUILD="$top/$B" DINO_TOP="$top"
CONFINED="test_frontend_confine"
passed=0
failed=0
for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	case " $CONFINED " in
	*" $n "*)
		echo "# $n: not run under valgrind (seccomp filters)"
		continue
		;;
	esac
	start=$(date +%s)
	valgrind --tool=memcheck --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect,possible \
	    --show-leak-kinds=definite,indirect,possible \
	    --track-fds=no --trace-children=no --quiet \
	    --log-file="$out/$n.vg" "$t" >"$out/$n.log" 2>&1 </dev/null
	rc=$?
	secs=$(($(date +%s) - start))
	if [ "$rc" -eq 0 ] && ! grep -q '^not ok' "$out/$n.log"; then
		echo "ok - valgrind $n (${secs}s)"
		passed=$((passed + 1))
	else
		echo "not ok - valgrind $n (status $rc, ${secs}s)"
		grep '^not ok' "$out/$n.log" | head -n 5
		head -n 60 "$out/$n.vg" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
