"""dinoctl and the broker's admin socket (issue 7): every command as an
admin and as a refused uid; pause blocks creates and survives a restart;
revoke affects only that principal; hold then approve and hold then deny,
each with an agent waiting; a held spend survives a restart; reload with a
good and a broken configuration (the old one keeps running, each error is
reported); metrics parse as Prometheus text and count what the test did."""
import grp
import json
import os
import re
import signal
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
    st = S.Stack(broker_args=os.environ.get("DINO_BROKER_ARGS", "").split(),
                 config_extra="admin_group %s\n" % ADMIN_GROUP,
                 principal_extra="    hold_above_cents %d\n" % HOLD_ABOVE,
                 blocks_extra="""principal uid %d {
    account default
    max_amount_cents 500000
    currency usd
}
""".replace("currency usd", "currencies usd") % OTHER)
    st.__enter__()
    st.admin_uid, st.admin_gid = uid, gid
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
    check("event=admin_refused uid=%d" % OTHER in log, "refusal logged")
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


def test_metrics(st):
    rc, text, _ = st.ctl("metrics")
    check(rc == 0, "dinoctl metrics")
    samples, types = parse_prom(text)
    check(types.get("dino_broker_requests_total") == "counter",
          "requests_total is a counter")
    held = samples.get(("dino_broker_requests_total",
                        (("outcome", "held"), ("tool", "create_spend"))), 0)
    check(held >= done["held"], "held creates counted (%d >= %d)" %
          (held, done["held"]))
    appr = samples.get(("dino_broker_admin_requests_total",
                        (("command", "approve"), ("status", "200"))), 0)
    check(appr >= done["approved"], "approvals counted")
    check(samples.get(("dino_broker_admin_refused_total", ()), 0) >=
          len(COMMANDS), "refusals counted")
    check(samples.get(("dino_broker_reload_failures_total", ()), 0) >= 2,
          "failed reloads counted")
    name = "dino_broker_dino_call_duration_seconds"
    check(types.get(name) == "histogram", "Dino latency histogram")
    lab = ("call", "create_spend")
    buckets = sorted((float(dict(k[1])["le"]) if dict(k[1])["le"] !=
                      "+Inf" else float("inf"), v) for k, v in
                     samples.items() if k[0] == name + "_bucket" and
                     lab in k[1])
    counts = [v for _, v in buckets]
    check(counts == sorted(counts) and counts[-1] ==
          samples[(name + "_count", (lab,))] and counts[-1] > 0,
          "histogram buckets cumulative, +Inf == count")
    check(("dino_broker_waiters", ()) in samples and
          ("dino_broker_frontend_connections", ()) in samples,
          "waiters and connections gauges")
    check(st.key not in text, "no key in metrics")


def test_no_secret_in_outputs(st):
    outs = []
    for c in (["status"], ["spends"], ["metrics"], ["--json", "status"],
              ["--json", "spends"]):
        outs.append("".join(st.ctl(*c)[1:]))
    check(not any(st.key in o for o in outs), "no key in dinoctl output")
    check(st.key.encode() not in st.log("broker"), "no key in broker log")


tap.run(globals(), setup, teardown)
