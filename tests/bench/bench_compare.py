"""The side-by-side benchmark of issue 10 (run by bench-compare.sh, which
says what it measures).  Figures, not a pass/fail test: every run is
bounded in requests and time, on loopback and UNIX sockets only.

Usage: bench_compare.py TOP OUTDIR REQUESTS
"""
import json
import os
import pwd
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

top, outdir, nreq = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, os.path.join(top, "tests", "lib"))
import stack as S  # noqa: E402

AGENTS = (1, 16, 256)
IDLE_CONNS = 10000
H2LOAD_TIMEOUT_S = 300
CREATE = {"amount_cents": 1, "currency": "usd", "merchant_name": "AWS",
          "reason": "bench"}


def requests_for(agents):
    """Fewer requests at one agent, where each waits for the last."""
    return max(agents * 20, nreq // 5 if agents == 1 else nreq)


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def anon_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"RssAnon:\s+(\d+)", f.read()).group(1))


def pss_kib(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        return int(re.search(r"Pss:\s+(\d+)", f.read()).group(1))


def floors():
    """(libcurl RSS KiB, SEQPACKET round trip us) from tests/bench/floor.c."""
    exe = os.environ.get("DINO_FLOOR")
    if not exe:
        return float("nan"), float("nan")
    rss = subprocess.run([exe, "rss"], capture_output=True, text=True).stdout
    rtt = subprocess.run([exe, "rtt", "20000"], capture_output=True,
                         text=True).stdout
    m, n = re.search(r"rss_kib=(\d+)", rss), re.search(r"rtt_us=([\d.]+)",
                                                      rtt)
    return (int(m.group(1)) if m else float("nan"),
            float(n.group(1)) if n else float("nan"))


def percentile(sorted_us, p):
    if not sorted_us:
        return 0.0
    i = min(len(sorted_us) - 1, int(round(p / 100.0 * (len(sorted_us) - 1))))
    return float(sorted_us[i])


def h2load(target, route, agents, workdir):
    """One h2load run: (requests/s, p50 us, p99 us, 2xx, total)."""
    n = requests_for(agents)
    log = os.path.join(workdir, "h2load.log")
    cmd = ["h2load", "--h1", "-n", str(n), "-c", str(agents), "-t", "1",
           "--log-file", log]
    url = target["url"][route]
    if target.get("unix"):
        cmd += ["-B", "unix:" + target["unix"]]
    for h in target.get("headers", []):
        cmd += ["-H", h]
    if route == "create_spend":
        cmd += ["-d", target["body"], "-H", "Content-Type: application/json"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=H2LOAD_TIMEOUT_S).stdout
    m = re.search(r"finished in [\d.]+m?s, ([\d.]+) req/s", out)
    codes = re.search(r"status codes: (\d+) 2xx", out)
    lat = []
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]))
    lat.sort()
    os.unlink(log)
    return {"rps": float(m.group(1)) if m else 0.0,
            "p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99),
            "ok": int(codes.group(1)) if codes else 0, "n": n}


class BenchStack(S.Stack):
    """The test stack, timed from exec to each process's ready line."""

    def start_broker(self):
        t0 = time.monotonic()
        super().start_broker()
        self.ready_ms = {"broker": self.wait_line("broker",
                                                  "event=started", t0)}

    def start_frontend(self):
        t0 = time.monotonic()
        super().start_frontend()
        self.ready_ms["frontend"] = self.wait_line("frontend",
                                                   "event=ready", t0)

    def wait_line(self, name, what, t0):
        """When the line first appeared, ms after t0 (polled each ms)."""
        deadline = t0 + 15
        while time.monotonic() < deadline:
            if what.encode() in self.log(name):
                return (time.monotonic() - t0) * 1000
            time.sleep(0.001)
        return float("nan")


def start_nginx(sandbox_url, key, workdir):
    """nginx as an unprivileged foreground process, or None."""
    binary = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        return None, None
    run = os.path.join(workdir, "nginx")
    os.mkdir(run, 0o700)
    sock = os.path.join(run, "nginx.sock")
    conf = """daemon off;
worker_processes auto;
pid %(run)s/nginx.pid;
error_log %(run)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log %(run)s/access.log;
    client_body_temp_path %(run)s/body;
    proxy_temp_path %(run)s/proxy;
    fastcgi_temp_path %(run)s/fastcgi;
    uwsgi_temp_path %(run)s/uwsgi;
    scgi_temp_path %(run)s/scgi;
    upstream dino { server %(upstream)s; keepalive 64; }
    server {
        listen unix:%(sock)s;
        location / {
            proxy_pass http://dino;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer %(key)s";
        }
    }
}
""" % {"run": run, "sock": sock, "key": key,
       "upstream": sandbox_url.split("//", 1)[1]}
    path = os.path.join(run, "nginx.conf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, conf.encode())
    os.close(fd)
    # The copy kept for the reader has no key in it.
    with open(os.path.join(outdir, "nginx.conf"), "w") as f:
        f.write(conf.replace(key, "<sandbox key>"))
    cmd = [binary, "-p", run, "-e", os.path.join(run, "error.log"), "-c",
           path]
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        os.chown(run, nobody.pw_uid, nobody.pw_gid)
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(workdir, 0o755)
        cmd = ["setpriv", "--reuid=%d" % nobody.pw_uid,
               "--regid=%d" % nobody.pw_gid, "--clear-groups"] + cmd
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(workdir, "nginx.err"),
                                     "wb"))
    S.wait_for(lambda: os.path.exists(sock), "nginx socket", proc=p)
    return p, sock


def idle_conns(st, n):
    """RSS of frontend and broker with n agent connections open, idle."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(st.agent_sock)
            socks.append(s)
        fe = st.pid("frontend")
        # Until the frontend has accepted them all (bounded).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if len(os.listdir("/proc/%d/fd" % fe)) >= n:
                break
            time.sleep(0.05)
        time.sleep(0.5)
        return rss_kib(fe), rss_kib(st.pid("broker"))
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def broker_connects(st):
    """(attempts, connects) from the broker's closing stats line."""
    st.kill("frontend")
    st.kill("broker")
    m = re.findall(rb"event=dino_client_stats attempts=(\d+) connects=(\d+)",
                   st.log("broker"))
    return (int(m[-1][0]), int(m[-1][1])) if m else (0, 0)


def main():
    workdir = tempfile.mkdtemp(prefix="dino-bench-compare.")
    os.chmod(workdir, 0o755)
    res = {"requests": nreq, "agents": list(AGENTS), "runs": {}}
    res["floor_curl_rss_kib"], res["floor_rtt_us"] = floors()
    st = BenchStack(log_level="info", daily_cap=10**11, spm=600000,
                    config_extra="agent_conns_per_uid %d\n"
                    "journal_fsync yes\n" % (IDLE_CONNS + 256),
                    sandbox_args=["--log-level", "warning"])
    st.seed = S.default_seed(st.key, approval_threshold_cents=10**9,
                             wallet_cents=10**13, budget_cents=10**12,
                             max_transaction_cents=10**6)
    nginx = None
    try:
        with st:
            res["ready_ms"] = st.ready_ms
            res["idle_rss_kib"] = {k: rss_kib(st.pid(k))
                                   for k in ("frontend", "broker")}
            res["idle_anon_kib"] = {k: anon_kib(st.pid(k))
                                    for k in ("frontend", "broker")}
            res["idle_pss_kib"] = {k: pss_kib(st.pid(k))
                                   for k in ("frontend", "broker")}
            res["idle_conns"] = IDLE_CONNS
            res["idle_conns_rss_kib"] = idle_conns(st, IDLE_CONNS)
            body = os.path.join(workdir, "body.json")
            with open(body, "w") as f:
                json.dump(CREATE, f)
            os.chmod(body, 0o644)
            base = st.sandbox_url
            targets = {
                "direct": {"url": {"get_balance": base + "/v1/balance",
                                   "create_spend": base + "/v1/spend"},
                           "headers": ["Authorization: Bearer " + st.key],
                           "body": body},
                "broker": {"url": {"get_balance":
                                   "http://localhost/tools/get_balance",
                                   "create_spend":
                                   "http://localhost/tools/create_spend"},
                           "unix": st.agent_sock, "body": body},
            }
            nginx, nsock = start_nginx(base, st.key, workdir)
            if nginx is not None:
                targets["nginx"] = {
                    "url": {"get_balance": "http://localhost/v1/balance",
                            "create_spend": "http://localhost/v1/spend"},
                    "unix": nsock, "body": body}
            for route in ("get_balance", "create_spend"):
                for agents in AGENTS:
                    for name, t in targets.items():
                        r = h2load(t, route, agents, workdir)
                        res["runs"]["%s/%s/%d" % (name, route, agents)] = r
                        print("  %-6s %-12s %3d agents: %8.0f req/s  p50 "
                              "%7.0f us  p99 %7.0f us  (%d/%d 2xx)"
                              % (name, route, agents, r["rps"], r["p50_us"],
                                 r["p99_us"], r["ok"], r["n"]), flush=True)
            res["dino_attempts"], res["dino_connects"] = broker_connects(st)
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)
    report(res)


def ratio(a, b):
    return a / b if b else float("nan")


def report(res):
    runs = res["runs"]
    lines = ["", "dino-broker vs direct (a) and nginx (c), h2load --h1; "
             "b/a and b/c are throughput ratios",
             "%-12s %6s %9s %9s %9s %6s %6s %9s %9s %9s"
             % ("route", "agents", "a req/s", "b req/s", "c req/s", "b/a",
                "b/c", "a p50 us", "b p50 us", "b p99 us")]
    for route in ("get_balance", "create_spend"):
        for agents in res["agents"]:
            a = runs.get("direct/%s/%d" % (route, agents), {})
            b = runs.get("broker/%s/%d" % (route, agents), {})
            c = runs.get("nginx/%s/%d" % (route, agents), {})
            lines.append("%-12s %6d %9.0f %9.0f %9s %6.2f %6s %9.0f %9.0f "
                         "%9.0f" % (
                             route, agents, a.get("rps", 0), b.get("rps", 0),
                             "%.0f" % c["rps"] if c else "-",
                             ratio(b.get("rps", 0), a.get("rps", 0)),
                             "%.2f" % ratio(b["rps"], c["rps"]) if c else "-",
                             a.get("p50_us", 0), b.get("p50_us", 0),
                             b.get("p99_us", 0)))
    a1 = runs.get("direct/get_balance/1", {})
    b1 = runs.get("broker/get_balance/1", {})
    added = b1.get("p50_us", 0) - a1.get("p50_us", 0)
    att, conn = res.get("dino_attempts", 0), res.get("dino_connects", 0)
    fe, br = res["idle_conns_rss_kib"]
    lines += [
        "",
        "added p50 latency, get_balance at 1 agent: %.0f us (target <= 50)"
        % added,
        "get_balance b/c at 16 and 256 agents: %s (target >= 1.0)" % ", ".join(
            "%.2f" % ratio(runs.get("broker/get_balance/%d" % n, {}).get(
                "rps", 0), runs.get("nginx/get_balance/%d" % n, {}).get(
                "rps", 0)) for n in (16, 256)),
        "start-up to ready: broker %.1f ms, frontend %.1f ms (target <= 50)"
        % (res["ready_ms"]["broker"], res["ready_ms"]["frontend"]),
        "idle RSS: frontend %.1f MiB (target <= 4), broker %.1f MiB (target "
        "<= 8); anonymous only: frontend %.1f, broker %.1f MiB" % (
            res["idle_rss_kib"]["frontend"] / 1024.0,
            res["idle_rss_kib"]["broker"] / 1024.0,
            res["idle_anon_kib"]["frontend"] / 1024.0,
            res["idle_anon_kib"]["broker"] / 1024.0),
        "idle PSS (shared pages divided among their users): frontend %.1f, "
        "broker %.1f MiB" % (res["idle_pss_kib"]["frontend"] / 1024.0,
                             res["idle_pss_kib"]["broker"] / 1024.0),
        "floor: a process that only links libcurl and initialises it: %.1f "
        "MiB RSS" % (res["floor_curl_rss_kib"] / 1024.0),
        "floor: one round trip between two processes (SEQPACKET): %.1f us; "
        "the broker path makes two more than a direct call: >= %.0f us added"
        % (res["floor_rtt_us"], 2 * res["floor_rtt_us"]),
        "%d idle agent connections: frontend %.1f + broker %.1f = %.1f MiB "
        "(target <= 64)" % (res["idle_conns"], fe / 1024.0, br / 1024.0,
                            (fe + br) / 1024.0),
        "connections to Dino: %d for %d calls, %.2f per thousand calls"
        % (conn, att, 1000.0 * conn / att if att else float("nan")),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    for name in ("compare-%s.txt" % stamp, "compare-latest.txt"):
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)
    with open(os.path.join(outdir, "compare-latest.json"), "w") as f:
        json.dump(res, f, indent=1)
    print("saved %s/compare-latest.txt and .json" % outdir)


main()
