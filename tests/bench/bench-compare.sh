#!/bin/sh
# Side-by-side benchmark (issue 10; figures, not a pass/fail test).  In one
# run and on one dino-sandbox upstream, with h2load --h1:
#   (a) direct: straight to the sandbox over loopback TCP, key in a header;
#   (b) broker: agent socket -> dino-frontend -> dino-broker (policy,
#       journal with fsync, one log line per request) -> sandbox;
#   (c) nginx:  a credential-injecting reverse proxy on a UNIX socket
#       (proxy_set_header Authorization, keep-alive upstream), run as an
#       unprivileged foreground process from a generated configuration.
# Routes get_balance and create_spend at 1, 16 and 256 concurrent agents:
# throughput, p50 and p99 latency (from h2load's per-request log), and the
# ratios b/a and b/c.  Also: start-up to ready, idle RSS, RSS with 10,000
# idle agent connections, and connections the broker opened to Dino per
# thousand calls.  And two floors measured on the same machine: the RSS of
# a process that only links libcurl and initialises it, and one round trip
# between two processes over a SEQPACKET pair (the broker path makes two
# more process round trips than a direct call).  The table is printed and saved under BUILD/bench/.
#
# nginx comes from Debian's packages (nginx-light, else nginx), installed
# here when running as root; without it, column (c) is left out.
#
# Usage: tests/bench/bench-compare.sh [BUILD] [REQUESTS]
set -eu
B=${1:-build}
N=${2:-10000}
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v h2load >/dev/null || { echo "bench: h2load not found (Debian nghttp2-client)" >&2; exit 1; }
[ -x "$top/$B/dino-broker" ] || { echo "bench: $top/$B/dino-broker not built" >&2; exit 1; }
if ! command -v nginx >/dev/null && [ -x /usr/sbin/nginx ]; then
	PATH=$PATH:/usr/sbin
fi
if ! command -v nginx >/dev/null && [ "$(id -u)" -eq 0 ]; then
	echo "bench: installing nginx from Debian's packages"
	apt-get install -y nginx-light >/dev/null 2>&1 ||
	    apt-get install -y nginx >/dev/null 2>&1 ||
	    { apt-get update >/dev/null 2>&1 &&
	    apt-get install -y nginx-light >/dev/null 2>&1; } ||
	    echo "bench: nginx could not be installed; (c) left out" >&2
	PATH=$PATH:/usr/sbin
fi
ulimit -n "$(ulimit -Hn)"
mkdir -p "$top/$B/bench"
# The floors (tests/bench/floor.c) are not part of the product: built here.
cc -O2 -std=gnu11 -Wall -Wextra -o "$top/$B/bench/floor" \
    "$top/tests/bench/floor.c" $(pkg-config --cflags --libs libcurl)
export DINO_BUILD="$top/$B" DINO_TOP="$top" DINO_FLOOR="$top/$B/bench/floor"
exec /usr/bin/python3 "$top/tests/bench/bench_compare.py" "$top" \
    "$top/$B/bench" "$N"
