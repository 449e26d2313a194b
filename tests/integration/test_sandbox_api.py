#!/usr/bin/python3
"""dino-sandbox over real HTTP: every /v1 route, auth, validation, the
decision order, idempotency, transitions, operator routes and subcommands,
the admin token, seed checking and the UNIX-socket listener."""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402
from dinotest import (BUILD, KEY, KEY_B, KEY_LIVE, Sandbox,  # noqa: E402
                      test_seed)

ID_RE = re.compile(r"^req_[0-9a-hjkmnp-tv-z]{26}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
SPEND_FIELDS = {"id", "status", "decision_reason", "budget_period",
                "remaining_budget_cents", "remaining_monthly_budget_cents",
                "amount_cents", "currency", "merchant_name", "team_id",
                "agent_account_id", "reason", "decided_at", "created_at",
                "updated_at"}
ADMIN = "admin-token-for-tests"


def setup():
    return Sandbox(seed=test_seed(), admin_token=ADMIN)


def teardown(sbx):
    if sbx is not None:
        rc = sbx.stop()
        tap.check(rc == 0, "sandbox exits 0 on SIGTERM (rc=%s)" % rc)


def is_envelope(body, code):
    return (isinstance(body, dict) and set(body) == {"error"} and
            body["error"].get("code") == code and
            isinstance(body["error"].get("message"), str) and
            isinstance(body["error"].get("details"), dict))


def fresh(prefix="k"):
    return "%s-%s" % (prefix, os.urandom(6).hex())


def test_startup_line_and_speed(s):
    tap.check(s.url.startswith("http://127.0.0.1:"), "listening line parsed")
    # Loose bound on a noisy machine: the benchmark measures the real figure.
    tap.check(s.ready_after < 5, "ready quickly (%.3fs)" % s.ready_after)


def test_balance(s):
    st, h, b = s.request("GET", "/v1/balance", key=KEY)
    tap.check(st == 200, "balance 200")
    tap.check(h.get("content-type") == "application/json", "json type")
    tap.check(b["currency"] == "usd" and b["budget_period"] == "monthly",
              "balance currency and period")
    for f in ("wallet_available_cents", "budget_cents", "spent_cents",
              "remaining_budget_cents", "remaining_monthly_budget_cents"):
        tap.check(isinstance(b.get(f), int), "balance has " + f)
    tap.check(b["remaining_budget_cents"] ==
              b["remaining_monthly_budget_cents"], "remaining twins equal")


def test_auth(s):
    st, _, b = s.request("GET", "/v1/balance")
    tap.check(st == 401 and is_envelope(b, "invalid_api_key"), "no key 401")
    st, _, b = s.request("GET", "/v1/balance", key="din_test_nope")
    tap.check(st == 401 and is_envelope(b, "invalid_api_key"),
              "unknown key 401")
    st, _, b = s.request("GET", "/v1/balance",
                         headers={"Authorization": "Basic " + KEY})
    tap.check(st == 401, "non-bearer 401")
    st, _, b = s.create(100, key=KEY[:-1])
    tap.check(st == 401, "prefix of a key is unknown")
    tap.check(KEY not in s.stderr(), "keys never logged")


def test_create_approved_both_paths(s):
    k = fresh()
    body = {"amount_cents": 1200, "currency": "usd", "merchant_name": "AWS",
            "reason": "GPU"}
    st, h, b = s.request("POST", "/v1/spend", body, key=KEY,
                         headers={"Idempotency-Key": k,
                                  "X-Request-Id": "trace-123"})
    tap.check(st == 200 and b["status"] == "approved", "approved 200")
    tap.check(set(b) == SPEND_FIELDS, "spend object fields %s" % sorted(b))
    tap.check(ID_RE.match(b["id"]) is not None, "id format")
    tap.check(all(TS_RE.match(b[f]) for f in
                  ("decided_at", "created_at", "updated_at")), "timestamps")
    tap.check(b["decision_reason"] == "Spend request approved", "reason")
    tap.check(h.get("x-request-id") == "trace-123", "request id echoed")
    tap.check(b["agent_account_id"] == "alpha" and b["team_id"] == "team_t",
              "account fields")
    # The same key on the other path is the same store.
    st2, _, b2 = s.request("POST", "/v1/spend-requests", body, key=KEY,
                           headers={"Idempotency-Key": k})
    tap.check(st2 == 200 and b2 == b, "spend-requests replays spend")
    for p in ("/v1/spend/", "/v1/spend-requests/"):
        st, _, g = s.request("GET", p + b["id"], key=KEY)
        tap.check(st == 200 and g == b, "GET " + p)


def test_other_account_is_404(s):
    st, _, b = s.create(100, idem=fresh())
    st, _, g = s.request("GET", "/v1/spend/" + b["id"], key=KEY_B)
    tap.check(st == 404 and is_envelope(g, "not_found"), "other account 404")
    st, _, g = s.request("GET", "/v1/spend/req_00000000000000000000000000",
                         key=KEY)
    tap.check(st == 404 and is_envelope(g, "not_found"), "unknown id 404")


def test_validation(s):
    base = {"amount_cents": 100, "currency": "usd", "merchant_name": "AWS",
            "reason": "r"}
    bad = [
        ("missing amount", {k: v for k, v in base.items()
                            if k != "amount_cents"}),
        ("string amount", dict(base, amount_cents="100")),
        ("fractional amount", dict(base, amount_cents=1.5)),
        ("zero amount", dict(base, amount_cents=0)),
        ("negative amount", dict(base, amount_cents=-5)),
        ("amount over 10^9", dict(base, amount_cents=1000000001)),
        ("bool amount", dict(base, amount_cents=True)),
        ("uppercase currency", dict(base, currency="USD")),
        ("long currency", dict(base, currency="usdx")),
        ("currency not allowed", dict(base, currency="gbp")),
        ("missing currency", {k: v for k, v in base.items()
                              if k != "currency"}),
        ("empty merchant", dict(base, merchant_name="")),
        ("long merchant", dict(base, merchant_name="m" * 201)),
        ("merchant not a string", dict(base, merchant_name=5)),
        ("long reason", dict(base, reason="r" * 1001)),
        ("control char", dict(base, reason="a\x01b")),
        ("newline in merchant", dict(base, merchant_name="A\nB")),
        ("unknown field", dict(base, surprise=1)),
        ("bad idempotency field", dict(base, idempotency_key="")),
    ]
    for name, body in bad:
        st, _, b = s.request("POST", "/v1/spend", body, key=KEY,
                             headers={"Idempotency-Key": fresh()})
        tap.check(st == 400 and is_envelope(b, "invalid_request"),
                  "400 for " + name)
    ok = [("max amount within budget", dict(base, amount_cents=1)),
          ("200-byte merchant", dict(base, merchant_name="m" * 200)),
          ("1000-byte reason", dict(base, reason="r" * 1000)),
          ("utf-8 merchant", dict(base, merchant_name="Caf\u00e9")),
          ("eur allowed", dict(base, currency="eur")),
          ("no reason", {k: v for k, v in base.items() if k != "reason"}),
          ("integral float", dict(base, amount_cents=100.0))]
    for name, body in ok:
        st, _, b = s.request("POST", "/v1/spend", body, key=KEY,
                             headers={"Idempotency-Key": fresh()})
        tap.check(st == 200, "200 for " + name)
    # An error is not stored against the key: the retry can succeed.
    k = fresh()
    st, _, _ = s.request("POST", "/v1/spend", dict(base, amount_cents=0),
                         key=KEY, headers={"Idempotency-Key": k})
    st2, _, b = s.request("POST", "/v1/spend", base, key=KEY,
                          headers={"Idempotency-Key": k})
    tap.check(st == 400 and st2 == 200, "400 not stored against key")
    st, _, b = s.request("POST", "/v1/spend", base, key=KEY,
                         headers={"Idempotency-Key": "bad key\x7f"})
    tap.check(st == 400, "non-printable Idempotency-Key 400")


def test_idempotency(s):
    k = fresh()
    st, _, a = s.create(500, idem=k)
    st2, _, b = s.create(500, idem=k)
    tap.check(st == 200 and st2 == 200 and a == b, "replay same object")
    for name, kw in (("amount", {"amount": 501}),
                     ("merchant", {"amount": 500, "merchant": "GCP"}),
                     ("reason", {"amount": 500, "reason": "other"}),
                     ("currency", {"amount": 500, "currency": "eur"})):
        st, _, c = s.create(idem=k, **kw)
        tap.check(st == 409 and is_envelope(c, "idempotency_key_conflict"),
                  "conflict on different " + name)
    # Body field accepted; header preferred.
    k2 = fresh()
    st, _, c = s.create(300, extra={"idempotency_key": k2})
    st2, _, d = s.create(300, idem=k2)
    tap.check(st == 200 and d["id"] == c["id"], "body idempotency_key")
    k3, k4 = fresh(), fresh()
    st, _, e = s.create(301, idem=k3, extra={"idempotency_key": k4})
    st2, _, f = s.create(301, idem=k3)
    st3, _, g = s.create(301, idem=k4)
    tap.check(f["id"] == e["id"] and g["id"] != e["id"], "header wins")
    # Keys are per spending key: beta may use the same key freely.
    st, _, h = s.create(10, key=KEY_B, idem=k)
    tap.check(st == 200 and h["id"] != a["id"], "keys scoped per account")
    led = s.ledger()
    counts = [c for c in led["idempotency_counts"]
              if c["idempotency_key"] == k]
    tap.check(sorted(c["account_id"] for c in counts) == ["alpha", "beta"]
              and all(c["count"] == 1 for c in counts),
              "ledger counts one per account and key")
    # A replay returns the current object, after a transition.
    k5 = fresh()
    st, _, p = s.create(15000, idem=k5)
    tap.check(p["status"] == "needs_approval", "pending for replay test")
    s.admin("POST", "/_sandbox/spends/%s/approve" % p["id"])
    st, _, q = s.create(15000, idem=k5)
    tap.check(q["id"] == p["id"] and q["status"] == "approved",
              "replay returns the current status")


def seeded(**acct):
    a = {"id": "solo", "key": KEY, "wallet_cents": 100000,
         "budget_cents": 50000}
    a.update(acct)
    return Sandbox(seed={"accounts": [a]}, admin_token=ADMIN)


def test_decision_order(s):
    # Each branch on a fresh sandbox so budgets do not interfere.
    with seeded(paused=True, merchants_block=["AWS"]) as t:
        st, _, b = t.create(100, idem="a")
        tap.check(st == 200 and b["status"] == "declined" and
                  b["decision_reason"] == "Agent account is paused",
                  "paused declines first")
    with seeded(merchants_block=["aws"], max_transaction_cents=10) as t:
        st, _, b = t.create(100, idem="a")
        tap.check(b["status"] == "declined" and "blocked" in
                  b["decision_reason"], "block list (case-insensitive) "
                  "before max transaction")
    with seeded(merchants_allow=["GCP"], max_transaction_cents=10) as t:
        st, _, b = t.create(100, idem="a")
        tap.check(b["status"] == "declined" and "allow" in
                  b["decision_reason"], "allow list miss declines")
        st, _, b = t.create(5, merchant="gcp", idem="b")
        tap.check(b["status"] == "approved", "allow list hit approves")
    with seeded(max_transaction_cents=1000, budget_cents=500) as t:
        st, _, b = t.create(2000, idem="a")
        tap.check(b["status"] == "declined" and "maximum" in
                  b["decision_reason"], "max transaction before budget")
    with seeded(budget_cents=500, wallet_cents=100) as t:
        st, _, b = t.create(600, idem="a")
        tap.check(b["status"] == "declined" and
                  b["decision_reason"] == "Amount would exceed the budget "
                  "for this period" and b["remaining_budget_cents"] == 500,
                  "budget before wallet")
    with seeded(wallet_cents=100, approval_threshold_cents=50) as t:
        st, _, b = t.create(200, idem="a")
        tap.check(st == 402 and is_envelope(b, "insufficient_wallet_balance"),
                  "wallet 402 before threshold")
        led = t.ledger()
        tap.check(led["total"] == 0, "402 stores nothing")
        t.request("POST", "/v1/sandbox/faucet", {"amount_cents": 1000},
                  key=KEY)
        st, _, b = t.create(200, idem="a")
        tap.check(st == 200 and b["status"] == "needs_approval",
                  "same key works after the faucet")
        tap.check(b["approval_url"].endswith(b["id"]) and
                  b["decided_at"] is None, "approval_url, decided_at null")
        st, _, bal = t.request("GET", "/v1/balance", key=KEY)
        tap.check(bal["spent_cents"] == 0 and
                  bal["wallet_available_cents"] == 1100,
                  "needs_approval reserves nothing")
    with seeded(budget_cents=1000, wallet_cents=5000) as t:
        st, _, b = t.create(600, idem="a")
        tap.check(b["status"] == "approved" and
                  b["remaining_budget_cents"] == 400, "approved charges")
        st, _, bal = t.request("GET", "/v1/balance", key=KEY)
        tap.check(bal["spent_cents"] == 600 and
                  bal["wallet_available_cents"] == 4400, "balance charged")
        st, _, b = t.create(500, idem="b")
        tap.check(b["status"] == "declined", "period budget exhausted")
        st, _, b = t.create(400, idem="c")
        tap.check(b["status"] == "approved" and
                  b["remaining_budget_cents"] == 0, "exactly to budget")


def test_operator_approval_rechecks(s):
    with seeded(budget_cents=1000, wallet_cents=5000,
                approval_threshold_cents=100) as t:
        a = t.create(500, idem="a")[2]
        b = t.create(600, idem="b")[2]
        st, _, r = t.admin("POST", "/_sandbox/spends/%s/approve" % a["id"])
        tap.check(st == 200 and r["remaining_budget_cents"] == 500,
                  "operator approval charges the budget")
        st, _, r = t.admin("POST", "/_sandbox/spends/%s/approve" % b["id"])
        tap.check(st == 409 and is_envelope(r, "invalid_request"),
                  "approval over budget refused")
        st, _, g = t.request("GET", "/v1/spend/" + b["id"], key=KEY)
        tap.check(g["status"] == "needs_approval", "still pending after 409")
    with seeded(budget_cents=10000, wallet_cents=1000,
                approval_threshold_cents=100) as t:
        a = t.create(800, idem="a")[2]
        b = t.create(900, idem="b")[2]
        t.admin("POST", "/_sandbox/spends/%s/approve" % a["id"])
        st, _, r = t.admin("POST", "/_sandbox/spends/%s/approve" % b["id"])
        tap.check(st == 402 and is_envelope(r,
                                            "insufficient_wallet_balance"),
                  "approval over the wallet refused")
        st, _, r = t.admin("POST", "/_sandbox/spends/%s/decline" % b["id"])
        tap.check(st == 200 and r["status"] == "declined",
                  "then the operator may decline it")


def test_transitions(s):
    ids = {}
    for action in ("approve", "decline", "cancel"):
        st, _, b = s.create(12000, idem=fresh())
        tap.check(b["status"] == "needs_approval", "pending for " + action)
        st, _, r = s.admin("POST", "/_sandbox/spends/%s/%s" % (b["id"],
                                                                action))
        want = {"approve": "approved", "decline": "declined",
                "cancel": "cancelled"}[action]
        tap.check(st == 200 and r["status"] == want and
                  r["decided_at"] is not None and "approval_url" not in r,
                  action + " moves to " + want)
        ids[want] = b["id"]
    for status, sid in ids.items():
        for action in ("approve", "decline", "cancel"):
            st, _, r = s.admin("POST", "/_sandbox/spends/%s/%s" %
                               (sid, action))
            tap.check(st == 409 and is_envelope(r, "invalid_request") and
                      r["error"]["message"] == "unsupported state transition",
                      "%s is terminal (%s)" % (status, action))
        st, _, g = s.request("GET", "/v1/spend/" + sid, key=KEY)
        tap.check(g["status"] == status, status + " unchanged")
    st, _, r = s.admin("POST", "/_sandbox/spends/req_x/approve")
    tap.check(st == 404 and is_envelope(r, "not_found"), "unknown spend 404")
    st, _, r = s.admin("POST", "/_sandbox/spends/%s/explode" % ids["approved"])
    tap.check(st == 404, "unknown action 404")


def test_faucet(s):
    st, _, b = s.request("POST", "/v1/sandbox/faucet",
                         {"amount_cents": 5000}, key=KEY)
    tap.check(st == 200 and b["amount_cents"] == 5000 and
              isinstance(b["wallet_available_cents"], int), "faucet 200")
    st, _, b = s.request("POST", "/v1/sandbox/faucet",
                         {"amount_cents": 5000}, key=KEY_LIVE)
    tap.check(st == 403 and is_envelope(b, "insufficient_scope"),
              "live key 403")
    for body in ({"amount_cents": 0}, {"amount_cents": "5"}, {},
                 {"amount_cents": 5, "x": 1}):
        st, _, b = s.request("POST", "/v1/sandbox/faucet", body, key=KEY)
        tap.check(st == 400 and is_envelope(b, "invalid_request"),
                  "faucet 400 for %s" % json.dumps(body))


def test_routes_and_methods(s):
    st, _, b = s.request("GET", "/v1/nothing", key=KEY)
    tap.check(st == 404 and is_envelope(b, "not_found"), "unknown route")
    st, _, b = s.request("GET", "/", key=KEY)
    tap.check(st == 404 and is_envelope(b, "not_found"), "root 404")
    st, h, b = s.request("GET", "/v1/spend", key=KEY)
    tap.check(st == 405 and h.get("allow") == "POST" and
              is_envelope(b, "invalid_request"), "GET create is 405")
    st, _, b = s.request("DELETE", "/v1/balance", key=KEY)
    tap.check(st == 405, "DELETE balance 405")
    st, _, b = s.request("GET", "/v1/balance?x=1", key=KEY)
    tap.check(st == 200, "query string ignored")
    st, _, b = s.request("GET", "/_sandbox/ledger", key="wrong")
    tap.check(st == 401 and is_envelope(b, "invalid_api_key"),
              "admin token required")
    st, _, b = s.request("GET", "/_sandbox/ledger", key=KEY)
    tap.check(st == 401, "a spending key is not the admin token")
    st, _, b = s.request("GET", "/v1/_sandbox/ledger", key=ADMIN)
    tap.check(st == 404, "operator routes never under /v1")


def test_operator_accounts(s):
    st, _, b = s.admin("POST", "/_sandbox/accounts/beta/pause")
    tap.check(st == 200 and b["paused"] is True, "pause")
    st, _, c = s.create(10, key=KEY_B, idem=fresh())
    tap.check(c["status"] == "declined" and
              c["decision_reason"] == "Agent account is paused", "paused "
              "account declines")
    st, _, b = s.admin("POST", "/_sandbox/accounts/beta/unpause")
    tap.check(st == 200 and b["paused"] is False, "unpause")
    st, _, b = s.admin("POST", "/_sandbox/accounts/beta/topup",
                       {"amount_cents": 700})
    tap.check(st == 200 and b["wallet_available_cents"] >= 700, "topup")
    st, _, b = s.admin("POST", "/_sandbox/accounts/beta/topup",
                       {"amount_cents": -1})
    tap.check(st == 400, "topup validates")
    st, _, b = s.admin("POST", "/_sandbox/accounts/nobody/pause")
    tap.check(st == 404 and is_envelope(b, "not_found"), "unknown account")


def test_subcommands(s):
    st, _, b = s.create(11000, idem=fresh())
    rc, out, err = s.ctl("approve", b["id"])
    tap.check(rc == 0 and json.loads(out)["status"] == "approved",
              "approve subcommand")
    rc, out, err = s.ctl("approve", b["id"])
    tap.check(rc == 1 and "409" in err, "second approve fails with 409")
    rc, out, err = s.ctl("ledger")
    tap.check(rc == 0 and "spends" in json.loads(out), "ledger subcommand")
    rc, out, err = s.ctl("topup", "alpha", "100")
    tap.check(rc == 0, "topup subcommand")
    rc, out, err = s.ctl("topup", "alpha", "ten")
    tap.check(rc == 2 and "AMOUNT" in err, "topup usage error")
    rc, out, err = s.ctl("pause", "alpha", token="wrong")
    tap.check(rc == 1 and "401" in err, "subcommand needs the token")
    rc, out, err = s.ctl("faults", '{"latency_ms":0}')
    tap.check(rc == 0 and json.loads(out)["latency_ms"] == 0, "faults")
    p = subprocess.run([s.binary, "approve"], capture_output=True,
                       timeout=10)
    tap.check(p.returncode == 2 and b"usage" in p.stderr, "missing args")
    p = subprocess.run([s.binary, "--help"], capture_output=True,
                       timeout=10)
    tap.check(p.returncode == 0 and b"usage" in p.stdout, "--help")
    p = subprocess.run([s.binary, "frobnicate"], capture_output=True,
                       timeout=10)
    tap.check(p.returncode == 2, "unknown command")


def test_revoke(s):
    # Last: it revokes beta's key for good.
    rc, out, err = s.ctl("revoke", "-", stdin=KEY_B.encode() + b"\n")
    tap.check(rc == 0 and json.loads(out)["revoked"] is True,
              "revoke subcommand reads the key from stdin")
    st, _, b = s.request("GET", "/v1/balance", key=KEY_B)
    tap.check(st == 403 and is_envelope(b, "revoked_api_key"), "revoked 403")
    st, _, b = s.create(10, key=KEY_B, idem=fresh())
    tap.check(st == 403, "revoked key cannot create")
    st, _, b = s.admin("POST", "/_sandbox/keys/din_test_unknown/revoke")
    tap.check(st == 404, "unknown key revoke 404")
    tap.check(KEY_B not in s.stderr(), "revoked key not logged")


def test_bad_seeds(s):
    d = tempfile.mkdtemp(prefix="dino-seed-")
    cases = [
        ("budget type", test_seed(), ("accounts", 1, "budget_cents", "x"),
         "accounts[1].budget_cents"),
        ("key prefix", test_seed(), ("accounts", 0, "key", "sk_live_x"),
         "accounts[0].key"),
        ("period", test_seed(), ("accounts", 0, "budget_period", "yearly"),
         "accounts[0].budget_period"),
        ("unknown field", test_seed(), ("accounts", 2, "colour", "red"),
         "accounts[2].colour"),
        ("currency", test_seed(), ("accounts", 0, "currencies", ["USD"]),
         "accounts[0].currencies"),
    ]
    for name, seed, (top, i, field, val), want in cases:
        seed[top][i][field] = val
        path = os.path.join(d, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        p = subprocess.run([s.binary, "--check", "--seed", path],
                           capture_output=True, timeout=10)
        tap.check(p.returncode == 1 and want.encode() in p.stderr,
                  "bad seed (%s) names %s: %r" % (name, want, p.stderr[:200]))
    extra = [("webhook secret", dict(test_seed(webhooks=[
        {"url": "http://127.0.0.1:1/", "secret": "nope"}])),
        "webhooks[0].secret"),
        ("duplicate id", {"accounts": [
            {"id": "a", "key": KEY, "wallet_cents": 0, "budget_cents": 0},
            {"id": "a", "key": KEY_B, "wallet_cents": 0, "budget_cents": 0}]},
         "accounts[1].id"),
        ("faults", dict(test_seed(), faults={"error_500_pct": 101}),
         "faults.error_500_pct"),
        ("top-level", dict(test_seed(), surprise=1), "surprise")]
    for name, seed, want in extra:
        path = os.path.join(d, "seed.json")
        with open(path, "w") as f:
            json.dump(seed, f)
        p = subprocess.run([s.binary, "--check", "--seed", path],
                           capture_output=True, timeout=10)
        tap.check(p.returncode == 1 and want.encode() in p.stderr,
                  "bad seed (%s) names %s: %r" % (name, want, p.stderr[:200]))
    with open(path, "w") as f:
        f.write('{"accounts": [}')
    p = subprocess.run([s.binary, "--check", "--seed", path],
                       capture_output=True, timeout=10)
    tap.check(p.returncode == 1 and b"seed:" in p.stderr, "invalid JSON seed")
    p = subprocess.run([s.binary, "--check"], capture_output=True,
                       timeout=10)
    tap.check(p.returncode == 0 and b"configuration OK" in p.stdout,
              "default seed is valid")
    p = subprocess.run([s.binary, "--check", "--seed",
                        os.path.join(d, "absent.json")],
                       capture_output=True, timeout=10)
    tap.check(p.returncode == 1, "missing seed file")
    p = subprocess.run([s.binary, "--listen", "127.0.0.1:0", "--timeout",
                        "0"], capture_output=True, timeout=10)
    tap.check(p.returncode == 2, "bad --timeout")


def test_unix_socket_and_default_seed(s):
    d = tempfile.mkdtemp(prefix="dino-sock-")
    path = os.path.join(d, "sbx.sock")
    with Sandbox(listen="unix:" + path) as u:
        tap.check(u.url == "unix:" + path, "unix listening line")
        st, _, b = u.request("GET", "/v1/balance",
                             key="din_test_default_0000000000000000")
        tap.check(st == 200 and b["budget_period"] == "monthly",
                  "default seed serves over a UNIX socket")
        st, _, b = u.request("POST", "/v1/spend",
                             {"amount_cents": 100, "currency": "usd",
                              "merchant_name": "AWS"},
                             key="din_test_paused_00000000000000000")
        tap.check(b["status"] == "declined", "default seed paused account")
        rc, out, err = u.ctl("ledger")
        tap.check(rc == 0 and json.loads(out)["total"] == 1,
                  "subcommand over unix:PATH")
        rc = u.stop()
        tap.check(rc == 0 and not os.path.exists(path),
                  "clean stop removes the socket")
    env = dict(os.environ, DINO_SANDBOX_SEED=os.path.join(d, "none.json"))
    p = subprocess.run([os.path.join(BUILD, "dino-sandbox"), "--check"],
                       capture_output=True, timeout=10, env=env)
    tap.check(p.returncode == 1, "DINO_SANDBOX_SEED is honoured first")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
