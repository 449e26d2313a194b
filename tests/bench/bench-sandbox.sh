#!/bin/sh
# Benchmark of dino-sandbox (not a timed test): startup to first answer, and
# GET /v1/balance throughput on loopback with h2load at 16 connections.
# Targets (issue 2): >= 20000 req/s, startup < 50 ms.
#
# Usage: tests/bench/bench-sandbox.sh [BUILD] [REQUESTS]
set -eu
B=${1:-build}
N=${2:-200000}
top=$(cd "$(dirname "$0")/../.." && pwd)
bin="$top/$B/dino-sandbox"
seed="$top/sandbox/seed.json"
key=din_test_default_0000000000000000
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dino-bench.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

command -v h2load >/dev/null || { echo "bench: h2load not found (Debian nghttp2-client)" >&2; exit 1; }
[ -x "$bin" ] || { echo "bench: $bin not built" >&2; exit 1; }

# Starts the sandbox and waits (bounded) for its "listening" line.
start() {
	rm -f "$tmp/out"
	"$bin" --listen 127.0.0.1:0 --seed "$seed" --log-level warning \
	    >"$tmp/out" 2>"$tmp/err" &
	pid=$!
	i=0
	while [ $i -lt 5000 ]; do
		addr=$(sed -n 's/^listening //p' "$tmp/out" 2>/dev/null)
		[ -n "$addr" ] && return 0
		i=$((i + 1))
	done
	echo "bench: sandbox did not start" >&2
	cat "$tmp/err" >&2
	exit 1
}

stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}

# Startup to first answer: from exec to the first complete balance reply,
# measured in-process by Python so no helper's start-up is counted.
echo "startup to first answer (5 runs):"
best=$(/usr/bin/python3 - "$bin" "$seed" "$key" <<'PY'
import socket, subprocess, sys, time
binary, seed, key = sys.argv[1:4]
best = None
for run in range(1, 6):
    t0 = time.monotonic()
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--seed", seed,
                          "--log-level", "warning"], stdout=subprocess.PIPE)
    line = p.stdout.readline().decode()
    t1 = time.monotonic()
    host, port = line.split()[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    s.sendall(("GET /v1/balance HTTP/1.1\r\nHost: b\r\nConnection: close"
               "\r\nAuthorization: Bearer %s\r\n\r\n" % key).encode())
    data = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        data += c
    t2 = time.monotonic()
    s.close()
    p.terminate()
    p.wait(5)
    ok = data.startswith(b"HTTP/1.1 200")
    ms = (t2 - t0) * 1000
    print("  run %d: listening after %.1f ms, first answer after %.1f ms%s"
          % (run, (t1 - t0) * 1000, ms, "" if ok else " (NOT 200)"),
          file=sys.stderr)
    best = ms if best is None or ms < best else best
print("%.1f" % best)
PY
)

start
echo "h2load --h1 -n $N -c 16 -t 2 http://$addr/v1/balance"
h2load --h1 -n "$N" -c 16 -t 2 -H "Authorization: Bearer $key" \
    "http://$addr/v1/balance" >"$tmp/h2load" 2>&1 || true
grep -E 'finished in|requests:|status codes' "$tmp/h2load"
rps=$(sed -n 's/.*finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$tmp/h2load")
stop
echo "result: ${rps:-?} req/s (target >= 20000), startup best ${best} ms" \
    "(target < 50)"
