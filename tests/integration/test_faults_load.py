"""Faults and load: many agents at once against a sandbox that loses
answers, fails with 500 and 429, answers late, and delivers webhooks twice
and out of order.

32 agent threads each create 20 spends with their own idempotency keys,
retrying with the same key on 202 (outcome not known yet), 429, 5xx or a
dropped connection, as an agent should.  Then, against the sandbox's
ledger: every intent ended exactly once (one spend per key, the same id on
every retry), none twice (every idempotency count is 1), none lost (every
spend the sandbox holds was reported to the agent that asked for it).  The
broker never saw an invalid message and both daemons are the same
processes.  Bounded: every agent stops after AGENT_DEADLINE_S.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

THREADS = 32
PER_THREAD = 20
AGENT_DEADLINE_S = 90.0
FINAL = {"approved", "declined", "needs_approval", "cancelled"}
FAULTS = dict(latency_ms=20, error_500_pct=15, error_429_pct=10,
              retry_after_s=0, drop_after_commit_pct=10, routes=["create"],
              webhook_duplicate=True, webhook_reorder=True,
              webhook_reorder_ms=200)


def setup():
    st = S.Stack(webhooks=True, log_level="info", daily_cap=10 ** 10,
                 spm=100000)
    st.__enter__()
    st.pids = (st.pid("broker"), st.pid("frontend"))
    return st


def teardown(st):
    if st is not None:
        st.stop()


def one_intent(st, key, amount, deadline, out):
    """Creates until a final answer; records every answer seen."""
    seen = []
    body = {"amount_cents": amount, "currency": "usd",
            "merchant_name": "Load", "reason": "faults and load",
            "idempotency_key": key}
    delay = 0.05
    while time.monotonic() < deadline:
        try:
            code, _, j = st.agent("POST", "/tools/create_spend", body,
                                  timeout=20)
        except OSError as e:
            seen.append(("conn", type(e).__name__))
            time.sleep(delay)
            continue
        status = j.get("status") if isinstance(j, dict) else None
        seen.append((code, status, j.get("id") if isinstance(j, dict)
                     else None))
        if code in (200, 201) and status in FINAL:
            out[key] = {"final": (code, status, j["id"]), "seen": seen}
            return
        if code == 202 or code == 429 or code >= 500:
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
            continue
        out[key] = {"final": (code, status, None), "seen": seen}
        return
    out[key] = {"final": None, "seen": seen}


def agent_thread(st, t, deadline, out):
    for i in range(PER_THREAD):
        # Every fifth needs an operator (above the sandbox's threshold).
        amount = 60000 if i % 5 == 4 else 100 + t * PER_THREAD + i
        one_intent(st, "load-%d-%d-%d" % (os.getpid(), t, i), amount,
                   deadline, out)


def test_many_agents_under_faults(st):
    st.faults(**FAULTS)
    out = {}
    deadline = time.monotonic() + AGENT_DEADLINE_S
    threads = [threading.Thread(target=agent_thread,
                                args=(st, t, deadline, out))
               for t in range(THREADS)]
    start = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join(AGENT_DEADLINE_S + 30)
    secs = time.monotonic() - start
    st.faults(reset=True)
    n = THREADS * PER_THREAD
    unfinished = [k for k, v in out.items() if v["final"] is None]
    check(len(out) == n and not unfinished,
          "%d intents from %d agents ended within %.0f s (%d unfinished)"
          % (n, THREADS, secs, len(unfinished) + n - len(out)))
    refused = {k: v for k, v in out.items()
               if v["final"] is not None and v["final"][2] is None}
    check(not refused, "no intent refused for a reason the faults do not "
          "explain: %r" % list(refused.items())[:3])
    # The same spend on every answer that named one.
    ids = {}
    split = []
    for k, v in out.items():
        named = {s[2] for s in v["seen"] if len(s) == 3 and s[2]}
        if len(named) > 1:
            split.append((k, named))
        if v["final"] and v["final"][2]:
            ids[v["final"][2]] = k
    check(not split, "every retry of a key named the same spend: %r"
          % split[:3])
    retried = sum(1 for v in out.values() if len(v["seen"]) > 1)
    log = st.log("broker")
    check(log.count(b"event=dino_retry") > n // 20,
          "the faults fired: the broker retried %d times, agents %d"
          % (log.count(b"event=dino_retry"), retried))

    led = st.ledger()
    mine = [s for s in led["spends"] if s.get("merchant_name", "Load") ==
            "Load" and s.get("amount_cents", 0) in
            {60000} | set(range(100, 100 + n))]
    counts = [c["count"] for c in led["idempotency_counts"]]
    check(counts and max(counts) == 1,
          "none twice: every idempotency key has one spend in the ledger "
          "(max %s)" % (max(counts) if counts else None))
    ledger_ids = {s["id"] for s in led["spends"]}
    lost = ledger_ids - set(ids)
    missing = set(ids) - ledger_ids
    check(not lost, "none lost: every spend in the ledger was reported to "
          "its agent (%d not: %r)" % (len(lost), sorted(lost)[:3]))
    check(not missing, "every spend an agent was given is in the ledger "
          "(%d not)" % len(missing))
    check(len(ids) == len(out) and len(mine) >= len(ids),
          "one spend per intent: %d intents, %d spends" % (len(out),
                                                           len(ids)))


def test_lost_answers_then_agent_retries(st):
    """Every create is committed by Dino but its answer lost, until the
    faults are lifted: agents see 202 or an error and retry with the same
    key; each still ends with exactly one spend."""
    st.faults(reset=True)
    st.faults(drop_after_commit_pct=100, routes=["create"])
    out = {}
    deadline = time.monotonic() + 45
    keys = ["lost-%d-%d" % (os.getpid(), i) for i in range(16)]
    threads = [threading.Thread(target=one_intent,
                                args=(st, k, 200 + i, deadline, out))
               for i, k in enumerate(keys)]
    for th in threads:
        th.start()
    time.sleep(3)
    st.faults(reset=True)
    for th in threads:
        th.join(60)
    ended = [k for k in keys if out.get(k, {}).get("final") and
             out[k]["final"][1] in FINAL]
    check(len(ended) == len(keys), "%d of %d intents ended after their "
          "answers were lost" % (len(ended), len(keys)))
    # Those whose broker-side retries outlasted the fault got 200 at once;
    # the others were told 202 (or an error) and retried with their key.
    retried = [k for k in ended if len(out[k]["seen"]) > 1]
    check(retried, "%d agents were told 202 or an error and retried"
          % len(retried))
    counts = [c["count"] for c in st.ledger()["idempotency_counts"]]
    check(counts and max(counts) == 1, "still no key spent twice")


def test_daemons_unharmed(st):
    log = st.log("broker")
    check(b"event=frontend_closed" not in log,
          "the broker saw no invalid message from the frontend")
    check((st.pid("broker"), st.pid("frontend")) == st.pids and
          st.procs["broker"].poll() is None and
          st.procs["frontend"].poll() is None,
          "broker and frontend are the processes that started")
    code, _, j = st.agent("GET", "/healthz")
    check(code == 200 and j.get("broker") == "connected",
          "healthz answers after the load")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
