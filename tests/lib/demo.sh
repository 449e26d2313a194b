#!/bin/sh
# `make demo`: the story a newcomer should see first, told with the dino CLI
# against make run's stack (dino-sandbox, dino-broker, dino-frontend).  Each
# step says what should happen, does it, and checks it; the demo exits 0 only
# if every step behaved as told.  Usage: demo.sh BUILD
set -u
B=${1:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
RUN="$B/demo"
export DINO_RUN_DIR="$RUN" DINO_SANDBOX_PORT=${DINO_DEMO_PORT:-8565}
# The refused caller below must reach the socket to be refused by the broker.
export DINO_SOCKET_MODE=0666
export DINO_SOCKET="$top/$RUN/agent.sock"
DINO="$B/dino"
PY=/usr/bin/python3
URL="http://127.0.0.1:$DINO_SANDBOX_PORT"
failed=0

step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
ok() { printf '   ok: %s\n' "$*"; }
bad() { printf '   FAILED: %s\n' "$*"; failed=$((failed + 1)); }
field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1"; }

tests/lib/run-stack.sh "$B" >"$top/$B/demo.out" 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null; wait $stack 2>/dev/null' EXIT INT TERM
i=0
until "$DINO" balance >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 300 ] || ! kill -0 $stack 2>/dev/null; then
		echo "the stack did not start; see $B/demo.out" >&2
		cat "$top/$B/demo.out" >&2
		exit 1
	fi
	sleep 0.1
done

step "1. An approved spend: within budget and below the approval threshold"
say "\$ dino spend --amount-cents 1200 --currency usd --merchant AWS --reason 'GPU hours'"
"$DINO" spend --amount-cents 1200 --currency usd --merchant AWS --reason "GPU hours"
rc=$?
[ $rc -eq 0 ] && ok "approved (exit 0)" || bad "expected exit 0, got $rc"

step "2. A spend that needs approval: the agent waits, an operator approves"
out=$("$DINO" --json spend --amount-cents 30000 --currency usd --merchant OpenAI --reason "fine-tuning run")
rc=$?
id=$(printf '%s' "$out" | field id)
status=$(printf '%s' "$out" | field status)
say "created $id with status $status (exit $rc)"
[ $rc -eq 2 ] && [ "$status" = needs_approval ] && ok "pending, not failed" ||
    bad "expected needs_approval and exit 2"
say "\$ dino wait $id --timeout 30   (in the background)"
start=$("$PY" -c 'import time; print(time.time())')
"$DINO" --json wait "$id" --timeout 30 >"$top/$B/demo.wait" 2>&1 &
waiter=$!
sleep 1
say "\$ dino-sandbox approve $id --url $URL"
"$B/dino-sandbox" approve "$id" --url "$URL" >/dev/null
wait $waiter
rc=$?
took=$("$PY" -c 'import sys,time; print("%.0f ms" % ((time.time() - float(sys.argv[1])) * 1000 - 1000))' "$start")
status=$(field status <"$top/$B/demo.wait")
say "the waiter woke with status $status about $took after the approval"
[ $rc -eq 0 ] && [ "$status" = approved ] && ok "approved through the signed webhook" ||
    bad "expected the waiter to return approved (exit 0), got $status (exit $rc)"
grep -q 'event=webhook' "$RUN/broker.log" && ok "the broker logged the verified webhook" ||
    bad "no webhook line in $RUN/broker.log"

step "3. A declined spend: Dino's budget for the period would be exceeded"
"$DINO" spend --amount-cents 25000 --currency usd --merchant AWS --reason "too much this month"
rc=$?
[ $rc -eq 1 ] && ok "declined (exit 1)" || bad "expected exit 1, got $rc"

step "4. A replay: the same idempotency key returns the same spend, charged once"
a=$("$DINO" --json spend --idempotency-key demo-replay-1 --amount-cents 500 --currency usd --merchant GitHub --reason "CI minutes" | field id)
b=$("$DINO" --json spend --idempotency-key demo-replay-1 --amount-cents 500 --currency usd --merchant GitHub --reason "CI minutes" | field id)
say "first call: $a, second call: $b"
n=$("$B/dino-sandbox" ledger --url "$URL" | "$PY" -c 'import json,sys; print(sum(1 for s in json.load(sys.stdin)["spends"] if s["id"] == sys.argv[1]))' "$a")
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$n" = 1 ] && ok "one spend in Dino's ledger" ||
    bad "expected the same id and one ledger entry (got $n)"

step "5. A refused caller: a local user the broker does not know"
if [ "$(id -u)" -eq 0 ]; then
	say "\$ setpriv --reuid=65534 --regid=65534 --clear-groups dino balance"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$DINO" balance
	rc=$?
	[ $rc -eq 77 ] && ok "refused (exit 77): unknown_principal" ||
	    bad "expected exit 77, got $rc"
else
	say "(run as root to see another uid refused; as $(id -un) this step is shown only as text)"
fi

echo
if [ $failed -eq 0 ]; then
	echo "demo: every step behaved as told"
	exit 0
fi
echo "demo: $failed step(s) did not behave as told; logs in $RUN/"
exit 1
