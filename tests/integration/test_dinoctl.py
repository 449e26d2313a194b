"""dinoctl and the broker's admin socket (issue 7): every command as an
admin and as a refused uid; pause blocks creates and survives a restart;
revoke affects only that principal; hold then approve and hold then deny,
each with an agent waiting; a held spend survives a restart; reload with a
good and a broken configuration (the old one keeps running, each error is
reported); metrics parse as Prometheus text and count what the test did."""
import grp
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

ADMIN_GROUP = "dino-test-admin"
ADMIN_USER = "dino-tadmin"       # a member of ADMIN_GROUP
OTHER = S.OTHER_UID              # nobody: a second principal, not an admin
HOLD_ABOVE = 5000
COMMANDS = [["status"], ["pause"], ["resume"], ["revoke", "uid:0"],
            ["restore", "uid:0"], ["spends"],
            ["approve", "hold_00000000000000000000000000"],
            ["deny", "hold_00000000000000000000000000"], ["audit", "verify"],
            ["metrics"], ["reload"], ["log-level", "info"]]
done = {"held": 0, "approved": 0, "denied": 0}


def admin_group():
    try:
        grp.getgrnam(ADMIN_GROUP)
    except KeyError:
        subprocess.run(["groupadd", "--system", ADMIN_GROUP], check=True)
    uid = S.ensure_user(ADMIN_USER)
    subprocess.run(["usermod", "-a", "-G", ADMIN_GROUP, ADMIN_USER],
                   check=True)
    return uid, grp.getgrnam(ADMIN_GROUP).gr_gid


def setup():
    if not S.IS_ROOT:
        print("1..0 # SKIP needs root (uids, groups)")
        sys.exit(0)
    uid, gid = admin_group()
    port = S.free_port()
    st = S.Stack(broker_args=os.environ.get("DINO_BROKER_ARGS", "").split(),
                 config_extra="admin_group %s\nmetrics_listen 127.0.0.1:%d\n"
                 % (ADMIN_GROUP, port),
                 principal_extra="    hold_above_cents %d\n" % HOLD_ABOVE,
                 blocks_extra="""principal uid %d {
    account default
    max_amount_cents 500000
    currency usd
}
""".replace("currency usd", "currencies usd") % OTHER)
    st.__enter__()
    st.admin_uid, st.admin_gid = uid, gid
    st.metrics_port = port
    return st


def teardown(st):
    if st is not None:
        st.stop()


def spend(st, amount, uid=None, key=None):
    body = {"amount_cents": amount, "currency": "usd",
            "merchant_name": "AWS", "reason": "dinoctl test"}
    if key:
        body["idempotency_key"] = key
    if uid is None:
        s, _, j = st.agent("POST", "/tools/create_spend", body)
        return s, j
    return tuple(st.agent_as(uid, "POST", "/tools/create_spend", body))


def waiter(st, sid, out):
    """wait_spend on sid in a thread; out gets (status, body)."""
    def run():
        s, _, j = st.agent("GET", "/tools/wait_spend/%s?timeout_s=30" % sid,
                           timeout=45)
        out.append((s, j))
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_socket_mode(st):
    m = os.stat(st.admin_sock)
    check(m.st_mode & 0o777 == 0o660, "admin socket mode 0660")
    check(m.st_uid == 0 and m.st_gid == st.admin_gid,
          "admin socket owned by root and admin_group")


def test_admin_member_admitted(st):
    rc, out, err = st.ctl("status", uid=st.admin_uid,
                          groups=[st.admin_gid])
    check(rc == 0 and "dino-broker" in out,
          "member of admin_group runs dinoctl status (%d %r)" % (rc, err))


def test_status(st):
    rc, j = st.ctl_json("status")
    check(rc == 0 and j["version"] and j["paused"] is False,
          "status: version, not paused")
    for k in ("uptime_s", "dino", "webhook", "spends", "journal",
              "principals"):
        check(k in j, "status has " + k)
    ids = [p["id"] for p in j["principals"]]
    check("uid:0" in ids and "uid:%d" % OTHER in ids, "status principals")
    check(j["journal"]["seq"] > 0, "status: journal position")


def test_refused_uid_every_command(st):
    """A uid outside admin_group: the file mode stops it (69); with the
    file opened to all, the broker itself refuses it (403, exit 77)."""
    rc, _, _ = st.ctl("status", uid=OTHER)
    check(rc == 69, "non-member cannot even connect (exit %d)" % rc)
    os.chmod(st.admin_sock, 0o666)
    try:
        for c in COMMANDS:
            rc, out, err = st.ctl(*c, uid=OTHER)
            check(rc == 77 and "forbidden" in err,
                  "refused uid: dinoctl %s exits 77 (%d)" % (" ".join(c),
                                                             rc))
        s, j = S.as_uid(OTHER, lambda: list(S.http_unix(
            st.admin_sock, "GET", "/v1/status")[::2]))
        check(s == 403 and j["error"]["code"] == "forbidden",
              "raw request from a refused uid: 403")
    finally:
        os.chmod(st.admin_sock, 0o660)
    log = st.log("broker").decode()
    check(re.search(r"event=admin_refused req=\d+ uid=%d " % OTHER, log),
          "refusal logged")
    rc, j = st.ctl_json("status")
    check(rc == 0 and j["paused"] is False, "refused pause had no effect")


def test_pause_blocks_and_survives_restart(st):
    rc, out, _ = st.ctl("pause")
    check(rc == 0, "pause")
    s, j = spend(st, 100)
    check(s == 503 and j["error"]["code"] == "paused", "paused: 503 paused")
    st.restart_broker()
    s, j = spend(st, 100)
    check(s == 503 and j["error"]["code"] == "paused",
          "still paused after a restart (journal replay)")
    rc, j = st.ctl_json("status")
    check(j["paused_by_operator"] is True, "status says paused by operator")
    rc, _, _ = st.ctl("resume")
    s, j = spend(st, 100)
    check(rc == 0 and s == 200 and j["status"] == "approved",
          "resume: spends again")


def test_revoke_only_that_principal(st):
    rc, _, _ = st.ctl("revoke", "uid:%d" % OTHER)
    check(rc == 0, "revoke uid:%d" % OTHER)
    s, j = spend(st, 100, uid=OTHER)
    check(s == 403 and j["error"]["code"] == "revoked",
          "revoked principal: 403 revoked")
    s, j = spend(st, 100)
    check(s == 200, "other principal unaffected")
    rc, _, _ = st.ctl("revoke", "nobody-at-all")
    check(rc == 66, "revoke of an unknown principal: 66")
    st.restart_broker()
    s, j = spend(st, 101, uid=OTHER)
    check(s == 403, "revocation survives a restart")
    rc, _, _ = st.ctl("restore", "uid:%d" % OTHER)
    s, j = spend(st, 102, uid=OTHER)
    check(rc == 0 and s == 200, "restore: spends again")


def ledger_amounts(st):
    return [sp.get("amount_cents") for sp in st.ledger().get("spends", [])]


def test_hold_then_approve(st):
    s, j = spend(st, HOLD_ABOVE + 1)
    check(s in (200, 202) and j["status"] == "held" and
          j["id"].startswith("hold_"), "above hold_above_cents: held")
    hid = j["id"]
    done["held"] += 1
    s, _, g = st.agent("GET", "/tools/get_spend/" + hid)
    check(s == 200 and g["status"] == "held", "get_spend on the hold id")
    check(HOLD_ABOVE + 1 not in ledger_amounts(st), "nothing sent to Dino")
    out = []
    t = waiter(st, hid, out)
    time.sleep(0.5)
    rc, lst = st.ctl_json("spends", "--status", "held")
    check(rc == 0 and any(x["hold_id"] == hid for x in lst["spends"]),
          "spends --status held lists it")
    st.ctl("pause")
    rc, _, err = st.ctl("approve", hid)
    check(rc == 1 and "paused" in err, "no approval while paused")
    st.ctl("resume")
    rc, _, err = st.ctl("approve", hid)
    done["approved"] += 1
    t.join(40)
    check(rc == 0, "approve (%r)" % err)
    check(out and out[0][0] == 200 and out[0][1]["status"] == "approved"
          and out[0][1]["id"] == hid, "waiter woken: approved (%r)" % out)
    check(ledger_amounts(st).count(HOLD_ABOVE + 1) == 1,
          "Dino got exactly one spend")
    rc, _, _ = st.ctl("approve", hid)
    check(rc == 1, "approve twice: 1 (not held any more)")


def test_hold_then_deny(st):
    s, j = spend(st, HOLD_ABOVE + 2)
    hid = j["id"]
    done["held"] += 1
    out = []
    t = waiter(st, hid, out)
    time.sleep(0.5)
    rc, _, _ = st.ctl("deny", hid, "--reason", "too big for today")
    done["denied"] += 1
    t.join(40)
    check(rc == 0, "deny")
    check(out and out[0][1]["status"] == "declined" and
          "too big for today" in out[0][1]["decision_reason"],
          "waiter woken: declined with the operator's reason (%r)" % out)
    check(HOLD_ABOVE + 2 not in ledger_amounts(st), "never sent to Dino")


def test_hold_survives_restart(st):
    s, j = spend(st, HOLD_ABOVE + 3, key="hold-restart-1")
    hid = j["id"]
    done["held"] += 1
    st.restart_broker()
    s, _, g = st.agent("GET", "/tools/get_spend/" + hid)
    check(s == 200 and g["status"] == "held", "still held after restart")
    s, j = spend(st, HOLD_ABOVE + 3, key="hold-restart-1")
    check(j.get("id") == hid, "same key replays the held spend")
    check(HOLD_ABOVE + 3 not in ledger_amounts(st), "still nothing sent")
    rc, _, _ = st.ctl("approve", hid)
    deadline = time.time() + 10
    while time.time() < deadline and \
            HOLD_ABOVE + 3 not in ledger_amounts(st):
        time.sleep(0.1)
    check(rc == 0 and ledger_amounts(st).count(HOLD_ABOVE + 3) == 1,
          "approved after a restart: sent once")
    st.restart_broker()
    time.sleep(0.5)
    check(ledger_amounts(st).count(HOLD_ABOVE + 3) == 1,
          "an approved hold is not sent again after a restart")


def test_spends_filters(st):
    rc, j = st.ctl_json("spends", "--principal", "uid:%d" % OTHER)
    check(rc == 0 and j["spends"] and all(
        x["principal"] == "uid:%d" % OTHER for x in j["spends"]),
        "spends --principal")
    rc, j = st.ctl_json("spends", "--since", "1h", "--limit", "2")
    check(rc == 0 and len(j["spends"]) == 2, "spends --since --limit")
    rc, j = st.ctl_json("spends", "--since", "2999-01-01")
    check(rc == 0 and j["spends"] == [], "spends --since the future")
    rc, _, _ = st.ctl("spends", "--since", "yesterday-ish")
    check(rc == 64, "bad --since: usage (64)")
    rc, out, _ = st.ctl("spends")
    check(rc == 0 and "declined" in out, "human spends listing")


def test_audit_and_log_level(st):
    rc, out, _ = st.ctl("audit", "verify")
    check(rc == 0 and "intact" in out, "audit verify: intact")
    rc, j = st.ctl_json("audit", "verify")
    check(rc == 0 and j["intact"] and j["records"] > 10,
          "audit verify --json")
    rc, _, _ = st.ctl("log-level", "debug")
    check(rc == 0, "log-level debug")
    rc, _, _ = st.ctl("log-level", "loud")
    check(rc == 65, "log-level with a bad level: 65")
    rc, _, _ = st.ctl("frobnicate")
    check(rc == 64, "unknown command: 64")


def test_reload_good_and_broken(st):
    with open(st.config) as f:
        good = f.read()
    new = good.replace("hold_above_cents %d" % HOLD_ABOVE,
                       "hold_above_cents %d" % (HOLD_ABOVE * 10))
    with open(st.config, "w") as f:
        f.write(new)
    rc, _, err = st.ctl("reload")
    check(rc == 0, "reload of a good configuration (%r)" % err)
    s, j = spend(st, HOLD_ABOVE + 4)
    check(s == 200 and j["status"] == "approved",
          "new hold_above_cents applies")
    with open(st.config, "w") as f:
        f.write(new + "frobnicate yes\nprincipal user no-such-user-x {\n"
                "    account default\n}\n")
    rc, out, err = st.ctl("reload")
    check(rc == 1 and "frobnicate" in err and "no-such-user-x" in err,
          "broken reload: exit 1, each error reported (%r)" % err)
    check(len(re.findall(r"dino-broker\.conf:\d+: ", err)) >= 2,
          "errors carry FILE:LINE")
    s, j = spend(st, HOLD_ABOVE + 5)
    check(s == 200 and j["status"] == "approved",
          "old configuration keeps running")
    os.kill(st.pid("broker"), signal.SIGHUP)
    time.sleep(0.5)
    check(st.procs["broker"].poll() is None, "SIGHUP with a broken config: "
          "still running")
    check(b"event=reload_failed" in st.log("broker"), "failure logged")
    with open(st.config, "w") as f:
        f.write(good.replace("ipc_socket ", "ipc_socket /tmp/x"))
    rc, _, err = st.ctl("reload")
    check(rc == 1 and "ipc_socket cannot change" in err,
          "restart-only setting refused on reload")
    with open(st.config, "w") as f:
        f.write(good)
    rc, _, _ = st.ctl("reload")
    check(rc == 0, "reload back to the first configuration")


def parse_prom(text):
    """A small Prometheus text parser: {(name, labels): value}, types."""
    samples, types = {}, {}
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? '
                         r'([-+]?[0-9.eE+]+|\+Inf|NaN)$')
    label_re = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split(" ", 3)
            types[name] = typ
            continue
        if line.startswith("#") or not line:
            continue
        m = line_re.match(line)
        if not m:
            raise ValueError("bad line: %r" % line)
        labels = tuple(sorted(label_re.findall(m.group(3) or "")))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def metrics(st):
    rc, text, _ = st.ctl("metrics")
    check(rc == 0, "dinoctl metrics")
    return parse_prom(text) + (text,)


def test_metrics(st):
    """Counters are per broker process: the deltas over what this test
    does must match exactly."""
    before, _, _ = metrics(st)
    s, j = spend(st, HOLD_ABOVE + 7)
    st.ctl("approve", j["id"])
    os.chmod(st.admin_sock, 0o666)
    try:
        st.ctl("status", uid=OTHER)
    finally:
        os.chmod(st.admin_sock, 0o660)
    s, _ = spend(st, 100)
    after, types, text = metrics(st)

    def delta(name, *labels):
        k = (name, tuple(sorted(labels)))
        return after.get(k, 0) - before.get(k, 0)
    check(types.get("dino_broker_requests_total") == "counter",
          "requests_total is a counter")
    check(delta("dino_broker_requests_total", ("tool", "create_spend"),
                ("outcome", "held")) == 1, "one held create counted")
    check(delta("dino_broker_requests_total", ("tool", "create_spend"),
                ("outcome", "approved")) == 1, "one approved create counted")
    check(delta("dino_broker_admin_requests_total", ("command", "approve"),
                ("status", "200")) == 1, "one approval counted")
    check(delta("dino_broker_admin_refused_total") == 1,
          "one refusal counted")
    name = "dino_broker_dino_call_duration_seconds"
    check(types.get(name) == "histogram", "Dino latency histogram")
    check(delta(name + "_count", ("call", "create_spend")) == 2,
          "two Dino create attempts observed")
    lab = ("call", "create_spend")
    buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                     if k[0] == name + "_bucket" and lab in k[1])
    counts = [v for _, v in buckets]
    check(counts and counts == sorted(counts) and counts[-1] ==
          after[(name + "_count", (lab,))],
          "histogram buckets cumulative, +Inf == count")
    check(("dino_broker_waiters", ()) in after and
          ("dino_broker_frontend_connections", ()) in after and
          after[("dino_broker_frontend_connections", ())] == 1,
          "waiters and connections gauges")
    check(types.get("dino_broker_journal_commit_duration_seconds") ==
          "histogram", "journal commit latency histogram")
    check(st.key not in text, "no key in metrics")


def test_metrics_listen(st):
    conn = http.client.HTTPConnection("127.0.0.1", st.metrics_port,
                                      timeout=10)
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read().decode()
    check(r.status == 200 and "text/plain" in r.getheader("Content-Type")
          and "dino_broker_requests_total" in body,
          "metrics_listen serves GET /metrics")
    samples, _ = parse_prom(body)
    check(len(samples) > 20, "parses as Prometheus text")
    conn.request("GET", "/v1/status")
    r = conn.getresponse()
    r.read()
    check(r.status == 404, "and nothing else (no admin commands)")
    conn.request("POST", "/v1/pause", body=b"{}")
    r = conn.getresponse()
    r.read()
    check(r.status == 404, "no pause over the metrics endpoint")
    conn.close()


def test_no_secret_in_outputs(st):
    outs = []
    for c in (["status"], ["spends"], ["metrics"], ["--json", "status"],
              ["--json", "spends"]):
        outs.append("".join(st.ctl(*c)[1:]))
    check(not any(st.key in o for o in outs), "no key in dinoctl output")
    check(st.key.encode() not in st.log("broker"), "no key in broker log")


def notifications(sock, want, timeout=10):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and want not in got:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
    return got


def test_broker_activation_and_notify(st):
    """The broker takes "ipc" and "admin" from socket activation and
    reports READY=1, RELOADING=1 then READY=1, WATCHDOG=1, STOPPING=1."""
    st.kill("frontend")
    st.kill("broker")
    socks = []
    for path, kind, mode in ((st.ipc_sock, socket.SOCK_SEQPACKET, 0o666),
                             (st.admin_sock, socket.SOCK_STREAM, 0o600)):
        if os.path.exists(path):
            os.unlink(path)
        ls = socket.socket(socket.AF_UNIX, kind)
        ls.bind(path)
        os.chmod(path, mode)
        ls.listen(16)
        socks.append(ls)
    npath = os.path.join(st.dir, "notify.sock")
    ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    ns.bind(npath)
    os.chmod(npath, 0o666)
    # LeakSanitizer at exit needs ptrace, which the filter refuses: a
    # sanitizer build would end with SIGSYS instead of its exit status.
    env = dict(os.environ, LISTEN_FDS="2", LISTEN_FDNAMES="ipc:admin",
               NOTIFY_SOCKET=npath, WATCHDOG_USEC="400000",
               ASAN_OPTIONS="detect_leaks=0")
    fds = [s_.fileno() for s_ in socks]
    err = open(os.path.join(st.dir, "broker.log"), "ab")
    p = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$ WATCHDOG_PID=$$ exec "$@" '
         '3<&%d 4<&%d' % tuple(fds), "sh",
         os.path.join(S.BUILD, "dino-broker"), "-f", st.config]
        + st.broker_args,
        env=env, pass_fds=fds, stdin=subprocess.DEVNULL, stdout=err,
        stderr=err)
    st.procs["broker"] = p
    for s_ in socks:
        s_.close()
    check("READY=1" in notifications(ns, "READY=1"), "broker READY=1")
    st.start_frontend()
    s, j = spend(st, 100)
    check(s == 200, "serves the frontend on the activated IPC socket")
    rc, out, _ = st.ctl("status")
    check(rc == 0, "dinoctl on the activated admin socket")
    check("WATCHDOG=1" in notifications(ns, "WATCHDOG=1", timeout=5),
          "WATCHDOG=1 at half the interval")
    p.send_signal(signal.SIGHUP)
    got = notifications(ns, "READY=1", timeout=5)
    check("RELOADING=1" in got and got.index("RELOADING=1") <
          got.index("READY=1"), "SIGHUP: RELOADING=1 then READY=1")
    log = st.log("broker").decode()
    check("event=socket_activated name=ipc" in log and
          "event=socket_activated name=admin" in log, "activation logged")
    st.kill("frontend")
    p.send_signal(signal.SIGTERM)
    check("STOPPING=1" in notifications(ns, "STOPPING=1", timeout=5),
          "STOPPING=1 on SIGTERM")
    p.wait(timeout=10)
    check(p.returncode == 0, "clean exit (%d)" % p.returncode)
    st.procs.pop("broker", None)
    check(os.path.exists(st.ipc_sock), "systemd's IPC socket left in place")
    ns.close()


tap.run(globals(), setup, teardown)
