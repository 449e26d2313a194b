"""Canary secrets: a planted spending key never reaches a log, a response, the
environment or command line of either daemon, or the frontend's memory."""
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

responses = []


def setup():
    st = S.Stack()
    st.__enter__()
    return st


def teardown(st):
    if st is not None:
        st.stop()


def call(st, *a, **kw):
    s, h, j = st.agent(*a, **kw)
    responses.append(repr((s, h, j)))
    return s, h, j


def test_exercise_every_route(st):
    call(st, "GET", "/healthz")
    call(st, "GET", "/tools")
    call(st, "GET", "/tools/get_balance")
    s, _, j = call(st, "POST", "/tools/create_spend",
                   {"amount_cents": 1200, "currency": "usd",
                    "merchant_name": "AWS", "reason": "r"})
    if s == 200:
        call(st, "GET", "/tools/get_spend/" + j["id"])
    call(st, "POST", "/tools/create_spend",
         {"amount_cents": 60000, "currency": "usd", "merchant_name": "AWS",
          "reason": "needs approval"})
    call(st, "POST", "/tools/create_spend",
         {"amount_cents": 10, "currency": "usd", "merchant_name": "Casino",
          "reason": "declined"})
    call(st, "POST", "/tools/create_spend",
         {"amount_cents": 10, "currency": "usd", "merchant_name": "Blocked",
          "reason": "policy"})
    call(st, "POST", "/tools/create_spend", b"{bad json")
    call(st, "GET", "/tools/get_spend/req_00000000000000000000000000")
    call(st, "GET", "/nope")
    # Upstream errors: the broker's own key is refused by Dino.
    st.sandbox("POST", "/_sandbox/keys/%s/revoke" % st.key)
    call(st, "GET", "/tools/get_balance")
    call(st, "POST", "/tools/create_spend",
         {"amount_cents": 11, "currency": "usd", "merchant_name": "AWS",
          "reason": "revoked"})
    check(len(responses) >= 12, "every route exercised")


def test_exercise_dinoctl(st):
    """Every dinoctl command, human and --json, and the admin socket's raw
    answers (a reload reads the key again) join the responses checked."""
    cmds = [["status"], ["spends"], ["metrics"], ["audit", "verify"],
            ["reload"], ["pause"], ["resume"], ["revoke", "uid:0"],
            ["restore", "uid:0"], ["log-level", "debug"],
            ["approve", "hold_00000000000000000000000000"],
            ["deny", "hold_00000000000000000000000000", "--reason", "x"]]
    for c in cmds:
        for mode in ([], ["--json"]):
            rc, out, err = st.ctl(*(mode + c))
            responses.append(out + err)
            check(rc in (0, 66), "dinoctl %s %s: exit %d" % (
                " ".join(mode), " ".join(c), rc))
    for url in ("/v1/status", "/v1/spends", "/v1/metrics"):
        responses.append(repr(st.admin("GET", url)))
    responses.append(repr(st.admin("POST", "/v1/reload", {})))


def test_no_canary_in_responses(st):
    check(not any(st.key in r for r in responses),
          "key in no response body or header")


def test_no_canary_in_logs(st):
    for name in ("broker", "frontend", "sandbox"):
        log = st.log(name)
        check(len(log) > 200, "%s log captured (%d bytes)" % (name, len(log)))
        check(st.key.encode() not in log, "key in no %s log" % name)


def test_no_canary_in_proc(st):
    for name in ("broker", "frontend"):
        pid = st.pid(name)
        for what in ("environ", "cmdline"):
            with open("/proc/%d/%s" % (pid, what), "rb") as f:
                check(st.key.encode() not in f.read(),
                      "key not in %s's %s" % (name, what))
    with open("/proc/%d/environ" % st.pid("broker"), "rb") as f:
        env = f.read()
    check(b"CREDENTIALS_DIRECTORY" not in env, "no credentials dir in env")


def test_no_canary_in_frontend_memory(st):
    if not S.IS_ROOT:
        check(True, "frontend memory scan needs root (skipped)")
        return
    pid = st.pid("frontend")
    found = False
    scanned = 0
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r":
                continue
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            if "[vvar]" in line or hi - lo > (1 << 30):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except OSError:
                continue
            scanned += len(data)
            if st.key.encode() in data or st.key[:24].encode() in data:
                found = True
    check(scanned > 0, "frontend memory was read")
    check(not found, "key nowhere in the frontend's memory")


def test_key_is_in_broker_only(st):
    # The check above must be able to fail: the same scan of the broker
    # finds the key (it holds it), which proves the scanner works.
    if not S.IS_ROOT:
        check(True, "broker memory scan needs root (skipped)")
        return
    pid = st.pid("broker")
    found = False
    with open("/proc/%d/maps" % pid) as maps, \
            open("/proc/%d/mem" % pid, "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if not m or m.group(3)[0] != "r" or "[vvar]" in line:
                continue
            lo, hi = int(m.group(1), 16), int(m.group(2), 16)
            # As for the frontend: ASan's shadow mappings are terabytes.
            if hi - lo > (1 << 30):
                continue
            try:
                mem.seek(lo)
                if st.key.encode() in mem.read(hi - lo):
                    found = True
                    break
            except OSError:
                continue
    check(found, "the scanner finds the key in the broker, which holds it")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
