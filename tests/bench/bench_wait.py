"""bench-wait: 10,000 agents blocked in wait_spend at once (issue 5).

Starts the real stack (sandbox, broker, frontend), creates N pending spends
(above the approval threshold) for one principal, and runs waitload: one
wait_spend connection per spend, then single decisions (one signed webhook,
straight to the broker's receiver, then that waiter's answer), then every
remaining spend decided together.  Prints RSS of the frontend and broker
from /proc while all N wait, and the latency percentiles.

With "fanout", all N agents wait on one spend and one webhook decides it.

Usage: bench_wait.py WAITLOAD [N] [SINGLES] [fanout]   (as root, for the users and
RLIMIT_NOFILE; the harness raises it)."""
import os
import resource
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import stack as S                                # noqa: E402

AMOUNT = 60000


def rss_kib(pid):
    st = S.proc_status(pid)
    return int(st["VmRSS"].split()[0]), int(st["VmHWM"].split()[0])


def create_all(st, n, ids):
    lock = threading.Lock()
    todo = list(range(n))

    def worker():
        conn = S.UnixHTTPConnection(st.agent_sock, timeout=30)
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop()
            body = ('{"amount_cents":%d,"currency":"usd","merchant_name":'
                    '"AWS","reason":"bench","idempotency_key":"b-%d"}'
                    % (AMOUNT, i)).encode()
            for _ in range(20):
                try:
                    conn.request("POST", "/tools/create_spend", body=body,
                                 headers={"Content-Type": "application/json"})
                    r = conn.getresponse()
                    raw = r.read()
                except OSError:
                    conn.close()
                    conn = S.UnixHTTPConnection(st.agent_sock, timeout=30)
                    continue
                if r.status == 200 and b"needs_approval" in raw:
                    sid = raw.split(b'"id":"', 1)[1][:30].decode()
                    with lock:
                        ids.append(sid)
                    break
                time.sleep(0.05)
        conn.close()
    ts = [threading.Thread(target=worker) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    tool = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    singles = int(sys.argv[3]) if len(sys.argv) > 3 else 300
    fanout = len(sys.argv) > 4 and sys.argv[4] == "fanout"
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    key = S.canary("din_test_")
    st = S.Stack(webhooks=True, poll=(3600, 3600), log_level="warning",
                 config_extra="agent_conns_per_uid %d\n" % (n + 100),
                 daily_cap=10 ** 11, spm=600000,
                 key=key, seed=S.default_seed(key, wallet_cents=10 ** 12,
                                              budget_cents=10 ** 12))
    with st:
        # The sandbox's own deliveries would only add noise: queue them.
        st.faults(webhooks_paused=True)
        ids = []
        t0 = time.time()
        create_all(st, 1 if fanout else n, ids)
        print("created=%d in %.1f s" % (len(ids), time.time() - t0))
        idfile = os.path.join(st.dir, "ids")
        with open(idfile, "w") as f:
            if fanout:
                f.write((ids[0] + "\n") * n)
            else:
                f.write("\n".join(ids) + "\n")
        fe, br = st.pid("frontend"), st.pid("broker")
        base = (rss_kib(fe)[0], rss_kib(br)[0])
        p = subprocess.Popen([tool, st.agent_sock, st.webhook_sock,
                              st.webhook_secret, idfile, str(AMOUNT),
                              str(singles)] + (["fanout"] if fanout else []),
                             stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        out = []
        for line in p.stdout:
            out.append(line.strip())
            if line.startswith("ready"):
                time.sleep(1.0)
                f_rss, _ = rss_kib(fe)
                b_rss, _ = rss_kib(br)
                print("# %d waiting:" % n)
                print("rss_frontend_kib=%d rss_broker_kib=%d "
                      "rss_total_mib=%.1f (before waits: frontend %d, "
                      "broker %d KiB)" % (f_rss, b_rss,
                                          (f_rss + b_rss) / 1024.0, *base))
                p.stdin.write("go\n")
                p.stdin.flush()
        p.wait(timeout=120)
        print("\n".join(out))
        f_hwm, b_hwm = rss_kib(fe)[1], rss_kib(br)[1]
        print("hwm_frontend_kib=%d hwm_broker_kib=%d hwm_total_mib=%.1f"
              % (f_hwm, b_hwm, (f_hwm + b_hwm) / 1024.0))


if __name__ == "__main__":
    main()
