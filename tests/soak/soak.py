#!/usr/bin/env python3
"""make soak: 1,000 agents making mixed calls against a real stack for about
ten minutes (SOAK_SECONDS, default 600), with mild sandbox faults on, while
the memory of each daemon is sampled from /proc every few seconds.

Each agent has its own label (X-Dino-Agent) and a pool of KEYS_PER_AGENT
idempotency keys: its first pass creates those spends, later passes replay
them (the same key must name the same spend) and mix in get_spend,
wait_spend, get_balance, /tools and /healthz.  The set of intents is thus
bounded, so after the warm-up the daemons' memory must be flat.

Fails when the resident size of dino-broker or dino-frontend grows by more
than 10% (plus 256 KiB of page-granularity slack) from the end of the
warm-up to the end of the run, when a call fails in a way the faults do not
explain (a dropped connection, a 4xx, a key naming two spends), or when a
daemon is no longer the process that started.  dino-sandbox keeps every
spend by design: its memory is reported, not judged.  Not part of make
check.  Usage: soak.py BUILD
"""
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1:
    os.environ.setdefault("DINO_BUILD", os.path.abspath(sys.argv[1]))
os.environ.setdefault("DINO_TOP", os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
import stack as S                                # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
AGENTS = int(os.environ.get("SOAK_AGENTS", "1000"))
THREADS = 100
KEYS_PER_AGENT = 8
SAMPLE_S = 5
WARMUP_S = max(60, SECONDS // 4)
GROWTH = 0.10
SLACK_KB = 256
FAULTS = dict(latency_ms=5, error_500_pct=2, error_429_pct=2,
              retry_after_s=0, drop_after_commit_pct=2,
              webhook_duplicate=True)
# Answers the faults explain: an outcome not known yet, Dino busy or failing.
EXPLAINED = {202, 502, 503, 504}


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.calls = 0
        self.codes = {}
        self.unexplained = []
        self.ids = {}           # (agent, key) -> spend id

    def note(self, what, code, detail=""):
        with self.lock:
            self.calls += 1
            self.codes[code] = self.codes.get(code, 0) + 1
            if code not in EXPLAINED and not (200 <= code < 300):
                if len(self.unexplained) < 50:
                    self.unexplained.append((what, code, detail))
                else:
                    self.unexplained.append(None)


def call(st, stats, what, method, url, body=None, label=None, timeout=30):
    try:
        code, _, j = st.agent(method, url, body,
                              headers={"X-Dino-Agent": label} if label
                              else None, timeout=timeout)
    except OSError as e:
        stats.note(what, -1, type(e).__name__)
        return None, None
    stats.note(what, code, "" if code < 400 else repr(j)[:200])
    return code, j


def agent_step(st, stats, a, n):
    label = "soak-%d" % a
    key = "soak-%d-%d-%d" % (os.getpid(), a, n % KEYS_PER_AGENT)
    body = {"amount_cents": 1 + (a + n % KEYS_PER_AGENT) % 50, "currency": "usd",
            "merchant_name": "Soak", "reason": "soak",
            "idempotency_key": key}
    code, j = call(st, stats, "create", "POST", "/tools/create_spend", body,
                   label)
    sid = j.get("id") if isinstance(j, dict) and code in (200, 201) else None
    if sid:
        with stats.lock:
            old = stats.ids.setdefault((a, key), sid)
        if old != sid:
            stats.note("replay", 0, "key %s named %s then %s" % (key, old,
                                                                   sid))
    kind = n % 4
    if sid and kind == 0:
        call(st, stats, "get_spend", "GET", "/tools/get_spend/" + sid,
             label=label)
    elif sid and kind == 1:
        call(st, stats, "wait_spend", "GET",
             "/tools/wait_spend/%s?timeout_s=1" % sid, label=label)
    elif kind == 2:
        call(st, stats, "get_balance", "GET", "/tools/get_balance",
             label=label)
    else:
        call(st, stats, "tools", "GET", "/tools")
        call(st, stats, "healthz", "GET", "/healthz")


def worker(st, stats, agents, stop):
    n = 0
    while not stop.is_set():
        for a in agents:
            if stop.is_set():
                break
            agent_step(st, stats, a, n)
        n += 1


def main():
    st = S.Stack(webhooks=True, log_level="notice", daily_cap=10 ** 11,
                 spm=600000, config_extra="agent_conns_per_uid 512\n")
    st.__enter__()
    try:
        return soak(st)
    finally:
        st.stop()


def soak(st):
    pids = {n: st.pid(n) for n in ("broker", "frontend", "sandbox")}
    st.faults(**FAULTS)
    stats = Stats()
    stop = threading.Event()
    per = (AGENTS + THREADS - 1) // THREADS
    threads = [threading.Thread(target=worker, daemon=True, args=(
        st, stats, list(range(t * per, min(AGENTS, (t + 1) * per))), stop))
        for t in range(THREADS)]
    start = time.monotonic()
    for th in threads:
        th.start()
    samples = []
    while time.monotonic() - start < SECONDS:
        time.sleep(SAMPLE_S)
        t = time.monotonic() - start
        row = {n: rss_kb(p) for n, p in pids.items()}
        samples.append((t, row))
        print("# t=%4.0fs calls=%d rss_kb=%s" % (t, stats.calls, row),
              flush=True)
    stop.set()
    for th in threads:
        th.join(60)
    st.faults(reset=True)

    failed = []
    for name in ("broker", "frontend"):
        warm = [r[name] for t, r in samples
                if WARMUP_S <= t < WARMUP_S + 30 and r[name]]
        tail = [r[name] for t, r in samples[-3:] if r[name]]
        if not warm or not tail:
            failed.append("%s: no memory samples (process gone?)" % name)
            continue
        base, end = max(warm), max(tail)
        limit = base * (1 + GROWTH) + SLACK_KB
        ok = end <= limit
        print("%s - %s RSS %d KiB after warm-up, %d KiB at the end "
              "(limit %d)" % ("ok" if ok else "not ok", name, base, end,
                              limit))
        if not ok:
            failed.append("%s grew" % name)
    sb = [r["sandbox"] for _, r in samples if r["sandbox"]]
    if sb:
        print("# sandbox RSS %d -> %d KiB (keeps every spend; not judged)"
              % (sb[0], sb[-1]))
    for name, pid in pids.items():
        alive = st.procs[name].poll() is None and st.pid(name) == pid
        print("%s - %s is still the process that started" %
              ("ok" if alive else "not ok", name))
        if not alive:
            failed.append(name + " died")
    log = st.log("broker")
    clean = b"event=frontend_closed" not in log
    print("%s - the broker saw no invalid message" %
          ("ok" if clean else "not ok"))
    if not clean:
        failed.append("frontend_closed")
    unexplained = len(stats.unexplained)
    print("%s - %d calls by %d agents in %d s; codes %r; %d errors the "
          "faults do not explain %r" % (
              "ok" if not unexplained else "not ok", stats.calls, AGENTS,
              SECONDS, dict(sorted(stats.codes.items())), unexplained,
              [u for u in stats.unexplained[:5] if u]))
    if unexplained:
        failed.append("unexplained errors")
    print("%d passed, %d failed" % (0 if failed else 1, len(failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
