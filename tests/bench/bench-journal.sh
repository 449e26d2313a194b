#!/bin/sh
# Benchmark of durable create_spend through the whole path (not a timed
# test): h2load, 64 concurrent agent connections over the agent socket ->
# dino-frontend -> dino-broker (journal, group commit) -> dino-sandbox, each
# create a new spend (no idempotency key: the broker makes one per call),
# every spend auto-approved (approval threshold above the amount).
#
# Two runs side by side, same stack settings: journal_fsync yes (durable,
# the default) and journal_fsync no (the benchmark-only switch).  Targets
# (issue 4): >= 5000 creates/s durable, and durable >= 0.7 x no-fsync.
# Also checks that every create was answered 200 and reached the ledger
# exactly once, and that the journal verifies.
#
# Usage: tests/bench/bench-journal.sh [BUILD] [REQUESTS] [CONNS]
set -eu
B=${1:-build}
N=${2:-40000}
C=${3:-64}
top=$(cd "$(dirname "$0")/../.." && pwd)
command -v h2load >/dev/null || { echo "bench: h2load not found (Debian nghttp2-client)" >&2; exit 1; }
[ -x "$top/$B/dino-broker" ] || { echo "bench: $top/$B/dino-broker not built" >&2; exit 1; }
export DINO_BUILD="$top/$B" DINO_TOP="$top"
exec /usr/bin/python3 - "$top" "$N" "$C" <<'PY'
import os, re, subprocess, sys, tempfile
top, n, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, os.path.join(top, "tests", "lib"))
import stack as S

LIMITS = {"spends_per_minute 1000": "spends_per_minute 600000",
          "daily_cap_cents 5000000": "daily_cap_cents 100000000000",
          "log_level debug": "log_level notice"}


class BenchStack(S.Stack):
    """The test stack with limits a benchmark needs and quiet logs."""

    def write_config(self, *a):
        super().write_config(*a)
        with open(self.config) as f:
            text = f.read()
        for k, v in LIMITS.items():
            text = text.replace(k, v)
        with open(self.config, "w") as f:
            f.write(text)


def run(fsync):
    st = BenchStack(
        config_extra="agent_conns_per_uid %d\njournal_fsync %s\n"
        % (max(conns, 64), "yes" if fsync else "no"),
        sandbox_args=["--log-level", "warning"])
    st.seed = S.default_seed(st.key, approval_threshold_cents=10**9,
                             wallet_cents=10**13, budget_cents=10**12)
    with st:
        body = os.path.join(st.dir, "body.json")
        with open(body, "w") as f:
            f.write('{"amount_cents":1,"currency":"usd",'
                    '"merchant_name":"AWS","reason":"bench"}')
        cmd = ["h2load", "--h1", "-B", "unix:" + st.agent_sock, "-n", str(n),
               "-c", str(conns), "-d", body, "-H",
               "Content-Type: application/json",
               "http://localhost/tools/create_spend"]
        out = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=600).stdout
        rate = float(re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s",
                               out).group(1))
        codes = re.search(r"status codes: (\d+) 2xx", out)
        ok = int(codes.group(1)) if codes else 0
        ledger = st.ledger()
        dup = sum(1 for e in ledger["idempotency_counts"] if e["count"] > 1)
        spends = len(ledger["spends"])
        st.kill("frontend")
        st.kill("broker")
        closed = [l for l in st.log("broker").decode().splitlines()
                  if "event=journal_closed" in l]
        batch = ""
        if closed:
            f = dict(kv.split("=", 1) for kv in closed[-1].split()
                     if "=" in kv)
            batch = ", %.1f records per write" % (
                int(f["records"]) / max(1, int(f["writes"])))
        ver = subprocess.run([os.path.join(S.BUILD, "dino-broker"),
                              "--verify-journal", st.journal_dir],
                             capture_output=True, text=True)
        print("  journal_fsync %-3s: %8.0f creates/s  (%d/%d answered 200, "
              "%d in the ledger, %d duplicate keys%s; %s)"
              % ("yes" if fsync else "no", rate, ok, n, spends, dup, batch,
                 "journal verifies" if ver.returncode == 0 else
                 "JOURNAL BAD: " + ver.stdout.strip()), flush=True)
        return rate, ok == n and spends == n and dup == 0 and \
            ver.returncode == 0


print("durable create_spend, %d requests, %d connections, h2load --h1:"
      % (n, conns))
fast, ok1 = run(False)
durable, ok2 = run(True)
ratio = durable / fast if fast else 0
print("durable %.0f/s (target >= 5000), ratio to no-fsync %.2f "
      "(target >= 0.70): %s" % (durable, ratio,
      "OK" if durable >= 5000 and ratio >= 0.7 and ok1 and ok2 else "BELOW TARGET"))
PY
