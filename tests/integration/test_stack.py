"""The privilege-separated core end to end: an agent on this machine asks over
the agent socket, dino-frontend validates, dino-broker applies local policy and
calls dino-sandbox.  Real processes; as root, real service users."""
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

SECOND_UID = 64999       # a second known principal, for ownership tests


def setup():
    st = S.Stack(blocks_extra="""
principal uid %d {
    account default
    max_amount_cents 500000
    currencies usd
}
""" % SECOND_UID)
    st.__enter__()
    return st


def teardown(st):
    if st is not None:
        st.stop()


def ledger_count(st, spend_id):
    return sum(1 for e in st.ledger()["spends"] if e["id"] == spend_id)


def test_health(st):
    s, _, j = st.agent("GET", "/healthz")
    check(s == 200 and j["broker"] == "connected", "healthz says connected")


def test_balance(st):
    s, _, j = st.agent("GET", "/tools/get_balance")
    check(s == 200, "get_balance 200")
    check(j.get("currency") == "usd", "balance currency")
    check(isinstance(j.get("wallet_available_cents"), int), "wallet field")


def test_approved(st):
    s, _, j = st.create(1200, "AWS", "GPU time")
    check(s == 200, "approved create 200")
    check(j["status"] == "approved", "status approved")
    check(j["id"].startswith("req_") and len(j["id"]) == 30, "req_ id")
    check(j["amount_cents"] == 1200 and j["merchant_name"] == "AWS",
          "fields echoed")
    check(ledger_count(st, j["id"]) == 1, "one ledger entry")
    s, _, g = st.agent("GET", "/tools/get_spend/" + j["id"])
    check(s == 200 and g["id"] == j["id"] and g["status"] == "approved",
          "get_spend of own spend")


def test_needs_approval(st):
    s, _, j = st.create(60000, "OpenAI", "big batch")
    check(s == 200 and j["status"] == "needs_approval", "needs_approval")
    check(j.get("approval_url", "").startswith("http"), "approval_url set")
    check(j.get("decided_at") is None, "decided_at null while pending")


def test_declined_by_dino(st):
    s, _, j = st.create(1200, "Casino", "fun")
    check(s == 200 and j["status"] == "declined", "declined by Dino policy")


def test_local_policy(st):
    before = len(st.ledger()["spends"])
    s, _, j = st.create(1200, "Blocked", "nope")
    check(s == 403 and j["error"]["code"] == "policy_denied",
          "merchant on the local deny list refused")
    s, _, j = st.create(500001, "AWS", "too much")
    check(s == 403 and j["error"]["code"] == "policy_denied",
          "above max_amount_cents refused")
    s, _, j = st.create(100, "AWS", "x", currency="eur")
    check(s == 403 and j["error"]["code"] == "policy_denied",
          "currency not allowed locally refused")
    check(len(st.ledger()["spends"]) == before,
          "nothing refused locally reached Dino")


def test_validation(st):
    good = {"amount_cents": 100, "currency": "usd", "merchant_name": "AWS",
            "reason": "r"}
    cases = [
        ("missing amount", {k: v for k, v in good.items()
                            if k != "amount_cents"}),
        ("fraction", dict(good, amount_cents=1.5)),
        ("string amount", dict(good, amount_cents="100")),
        ("zero", dict(good, amount_cents=0)),
        ("negative", dict(good, amount_cents=-5)),
        ("above 10^9", dict(good, amount_cents=1000000001)),
        ("bool amount", dict(good, amount_cents=True)),
        ("currency upper", dict(good, currency="USD")),
        ("currency long", dict(good, currency="usdd")),
        ("merchant empty", dict(good, merchant_name="")),
        ("merchant long", dict(good, merchant_name="m" * 201)),
        ("merchant control", dict(good, merchant_name="a\nb")),
        ("reason long", dict(good, reason="r" * 1001)),
        ("unknown field", dict(good, extra=1)),
        ("key too long", dict(good, idempotency_key="k" * 129)),
        ("key with space", dict(good, idempotency_key="a b")),
        ("key empty", dict(good, idempotency_key="")),
        ("merchant number", dict(good, merchant_name=5)),
    ]
    for name, body in cases:
        s, _, j = st.agent("POST", "/tools/create_spend", body)
        check(s == 400 and j["error"]["code"] == "invalid_request",
              "400 invalid_request: " + name)
    raw = [
        ("duplicate key", b'{"amount_cents":1,"amount_cents":2,'
         b'"currency":"usd","merchant_name":"A","reason":"r"}'),
        ("invalid utf8", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"\xff","reason":"r"}'),
        ("truncated", b'{"amount_cents":1,"currency":"us'),
        ("not an object", b'[1,2,3]'),
        ("huge number", b'{"amount_cents":1e400,"currency":"usd",'
         b'"merchant_name":"A","reason":"r"}'),
        ("nul escape", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"A\\u0000B","reason":"r"}'),
    ]
    for name, body in raw:
        s, _, j = st.agent("POST", "/tools/create_spend", body)
        check(s == 400 and j["error"]["code"] == "invalid_request",
              "400 invalid_request: " + name)
    body = b"x" * (17 * 1024)
    resp = S.raw_unix(st.agent_sock, b"POST /tools/create_spend HTTP/1.1\r\n"
                      b"Host: localhost\r\nContent-Type: application/json"
                      b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    check(S.raw_status(resp) == 413, "oversized body is 413")
    s, _, j = st.agent("POST", "/tools/create_spend", b"{}",
                       headers={"Content-Type": "text/plain"})
    check(s == 415, "wrong content type is 415")
    s, _, j = st.agent("GET", "/tools/nope")
    check(s == 404, "unknown route is 404")
    s, _, j = st.agent("GET", "/tools/get_spend/not-an-id")
    check(s in (400, 404), "malformed spend id refused")


def test_replay_and_conflict(st):
    key = "agent-key-" + str(time.time())
    s1, _, a = st.create(2500, "AWS", "replay me", key=key)
    s2, _, b = st.create(2500, "AWS", "replay me", key=key)
    check(s1 == 200 and s2 == 200, "both creates answered")
    check(a["id"] == b["id"], "replay returns the same spend")
    check(ledger_count(st, a["id"]) == 1, "one ledger entry after replay")
    s3, _, c = st.create(2600, "AWS", "replay me", key=key)
    check(s3 == 409, "same key, different body: 409")
    check(c["error"]["code"] == "idempotency_key_conflict", "conflict code")


def test_ownership(st):
    if not S.IS_ROOT:
        check(True, "ownership test needs root (skipped)")
        return
    st2 = st.agent_as(SECOND_UID, "POST", "/tools/create_spend",
                      {"amount_cents": 300, "currency": "usd",
                       "merchant_name": "AWS", "reason": "mine"})
    check(st2[0] == 200, "second principal can spend")
    other_id = st2[1]["id"]
    s, _, j = st.agent("GET", "/tools/get_spend/" + other_id)
    check(s == 404, "another principal's spend is 404")
    # Same agent key from two principals never collides.
    key = "shared-key-%d" % time.time()
    a = st.agent_as(SECOND_UID, "POST", "/tools/create_spend",
                    {"amount_cents": 301, "currency": "usd",
                     "merchant_name": "AWS", "reason": "k",
                     "idempotency_key": key})
    s, _, b = st.create(302, "AWS", "k", key=key)
    check(a[0] == 200 and s == 200 and a[1]["id"] != b["id"],
          "same agent key from two principals gives two spends")


def test_unknown_uid(st):
    if not S.IS_ROOT:
        check(True, "unknown uid test needs root (skipped)")
        return
    r = st.agent_as(S.OTHER_UID, "GET", "/tools/get_balance")
    check(r[0] == 403, "unknown uid refused with 403")
    check(r[1]["error"]["code"] == "unknown_principal", "unknown_principal")


def test_faults_500_429(st):
    st.faults(error_500_next=2)
    s, _, j = st.create(700, "AWS", "after 500s", key="k500-%f" % time.time())
    check(s == 200 and j["status"] == "approved", "500s retried, approved")
    check(ledger_count(st, j["id"]) == 1, "one entry after 500s")
    st.faults(error_429_next=1, retry_after_s=1)
    s, _, j = st.create(701, "AWS", "after 429", key="k429-%f" % time.time())
    check(s == 200 and j["status"] == "approved", "429 retried, approved")
    check(ledger_count(st, j["id"]) == 1, "one entry after 429")


def test_lost_response(st):
    st.faults(drop_after_commit_next=1)
    key = "lost-%f" % time.time()
    s, _, j = st.create(702, "AWS", "lost response", key=key)
    check(s == 200 and j["status"] == "approved",
          "lost response: retried with the same key")
    check(ledger_count(st, j["id"]) == 1, "lost response: one ledger entry")


def test_dino_down_then_back(st):
    port = st.sandbox_url.rsplit(":", 1)[1]
    ledger = st.ledger()
    seed_path = os.path.join(st.dir, "seed.json")
    st.kill("sandbox")
    key = "down-%f" % time.time()
    s, _, j = st.create(703, "AWS", "while down", key=key)
    check(s == 202 and j["status"] == "submitting",
          "Dino down: answered submitting, not declined")
    check(j.get("idempotency_key") == key, "submitting carries the key")
    err = open(os.path.join(st.dir, "sandbox.log"), "ab")
    p = subprocess.Popen([os.path.join(S.BUILD, "dino-sandbox"), "--listen",
                          "127.0.0.1:" + port, "--seed", seed_path],
                         stdout=subprocess.PIPE, stderr=err)
    st.procs["sandbox"] = p
    check(p.stdout.readline().startswith(b"listening"), "sandbox back")
    deadline = time.time() + 30
    final = None
    while time.time() < deadline:
        s, _, j = st.create(703, "AWS", "while down", key=key)
        if s == 200:
            final = j
            break
        time.sleep(0.5)
    check(final is not None and final["status"] == "approved",
          "settles once Dino is back")
    if final:
        check(ledger_count(st, final["id"]) == 1, "exactly one spend")
    check(len(ledger["spends"]) >= 0, "ledger read before the outage")


def test_frontend_restart(st):
    st.restart_frontend()
    s, _, j = st.agent("GET", "/tools/get_balance")
    check(s == 200, "broker serves a restarted frontend")



def balance_lines(st):
    """(dino_request_id, status) of each get_balance the broker answered."""
    out = []
    for line in st.log("broker").decode(errors="replace").splitlines():
        if "event=request " in line and "tool=get_balance" in line:
            f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
            out.append((f.get("dino_request_id"), f.get("status")))
    return out


def test_balance_reads_shared(st):
    """Balance reads that arrive while one is in flight share the next
    read, which leaves after they arrived: never the one in flight."""
    s, _, before = st.agent("GET", "/tools/get_balance")
    check(s == 200, "balance before")
    seen = len(balance_lines(st))
    # Long enough that the spend and the four later reads all arrive while
    # the first read is held, even on a loaded machine.
    st.faults(latency_ms=2500, routes=["read"])
    got = {}

    def get(name):
        got[name] = st.agent("GET", "/tools/get_balance")

    first = threading.Thread(target=get, args=("first",))
    first.start()
    time.sleep(0.25)             # Dino has computed it and holds the answer
    st.faults(reset=True)
    s, _, sp = st.create(2500, "AWS", "shared read")
    check(s == 200 and sp["status"] == "approved", "spend while in flight")
    later = [threading.Thread(target=get, args=("later%d" % i,))
             for i in range(4)]
    for t in later:
        t.start()
    for t in [first] + later:
        t.join(10)
    s, _, after = st.agent("GET", "/tools/get_balance")
    check(s == 200, "balance after")
    check(got["first"][0] == 200 and got["first"][2] == before,
          "the read in flight answers only those who came before it")
    check(all(got["later%d" % i][0] == 200 and got["later%d" % i][2] ==
              after for i in range(4)) and after != before,
          "those who came while it was in flight see the spend")
    ids = [i for i, st_ in balance_lines(st)[seen:] if st_ == "200"]
    check(len(ids) == 6 and len(set(ids[1:5])) == 1 and ids[0] != ids[1]
          and ids[5] != ids[1],
          "four concurrent reads shared one Dino read (%r)" % ids)


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
