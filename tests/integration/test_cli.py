"""The dino CLI against a fake agent API (tests/lib/fakeagent.py): every
subcommand, both output modes, and every documented exit status."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import tap  # noqa: E402
from fakeagent import FakeAgent  # noqa: E402

BUILD = os.environ.get("DINO_BUILD", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
DINO = os.path.join(BUILD, "dino")

EXIT = {"ok": 0, "declined": 1, "pending": 2, "usage": 64, "invalid": 65,
        "not_found": 66, "unavailable": 69, "internal": 70,
        "rate_limited": 75, "refused": 77}


def dino(fa, *args, env=None, timeout=30, socket=True):
    argv = [DINO] + (["--socket", fa.sock] if socket else []) + list(args)
    e = dict(os.environ)
    e.pop("DINO_SOCKET", None)
    e.update(env or {})
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                       env=e, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def spend(fa, amount=1200, merchant="AWS", *extra, currency="usd"):
    return dino(fa, "spend", "--amount-cents", str(amount), "--currency",
                currency, "--merchant", merchant, "--reason", "a test",
                *extra)


def jspend(fa, amount=1200, merchant="AWS", *extra):
    rc, out, err = dino(fa, "--json", "spend", "--amount-cents", str(amount),
                        "--currency", "usd", "--merchant", merchant,
                        "--reason", "a test", *extra)
    return rc, json.loads(out), err


def setup():
    return FakeAgent()


def teardown(fa):
    if fa is not None:
        tap.check(fa.invalid == [], "every fake answer fits openapi.yaml")
        fa.close()


def test_help(fa):
    for cmd in ("spend", "balance", "get", "wait", "tools", "mcp"):
        rc, out, _ = dino(fa, cmd, "--help")
        tap.check(rc == 0 and out.startswith("usage: dino") and cmd in out,
                  "%s --help prints its usage and exits 0" % cmd)
    rc, out, _ = dino(fa, "--help")
    tap.check(rc == 0 and "commands:" in out, "dino --help lists commands")
    rc, out, _ = dino(fa, "version")
    tap.check(rc == 0 and out.startswith("dino "), "dino version")


def test_usage_errors(fa):
    cases = [
        ((), "no command"),
        (("frobnicate",), "unknown command"),
        (("spend", "--amount-cents", "12x", "--currency", "usd",
          "--merchant", "m", "--reason", ""), "amount not a number"),
        (("spend", "--amount-cents", "0", "--currency", "usd",
          "--merchant", "m", "--reason", ""), "amount zero"),
        (("spend", "--amount-cents", "5", "--currency", "usd",
          "--merchant", "m"), "missing --reason"),
        (("spend", "--amount-cents", "5", "--currency", "usd",
          "--merchant", "m", "--reason", "", "--timeout", "3"),
         "--timeout is not a spend option"),
        (("spend", "--amount-cents", "5", "--currency", "usd",
          "--merchant", "m", "--reason", "", "--wait", "-1"),
         "negative --wait"),
        (("spend", "--amount-cents", "5", "--currency", "usd",
          "--merchant", "m", "--reason", "", "--idempotency-key", "a b"),
         "key with a space"),
        (("get",), "get without id"),
        (("get", "../../etc"), "get with a path for an id"),
        (("wait", "req_x"), "wait with a bad id"),
        (("balance", "extra"), "balance with an operand"),
        (("--bogus", "balance"), "unknown global option"),
    ]
    for args, name in cases:
        rc, out, err = dino(fa, *args)
        tap.check(rc == EXIT["usage"] and out == "" and "usage:" in err,
                  "usage error (64): " + name)
    tap.check(not any(p.startswith("/tools/get_spend/..")
                      for _, p, _, _ in fa.requests),
              "a bad id never reaches the socket")


def test_spend_approved(fa):
    rc, out, err = spend(fa)
    tap.check(rc == EXIT["ok"], "approved exits 0")
    tap.check("status:           approved" in out and "12.00 usd" in out,
              "human output shows status and amount")
    rc, j, _ = jspend(fa)
    tap.check(rc == 0 and j["status"] == "approved", "--json prints the spend")
    tap.check(j["idempotency_key"].startswith("dino-") and
              len(j["idempotency_key"]) == 37,
              "dino makes an idempotency key when none is given")


def test_spend_declined(fa):
    rc, out, _ = spend(fa, 1200, "Casino")
    tap.check(rc == EXIT["declined"] and "declined" in out,
              "declined exits 1")


def test_spend_needs_approval(fa):
    rc, out, _ = spend(fa, 60000)
    tap.check(rc == EXIT["pending"], "needs_approval exits 2")
    tap.check("needs_approval" in out and "dino wait req_" in out and
              "approval url:" in out, "human output says how to wait")


def test_spend_wait_approved(fa):
    rc, j, _ = jspend(fa, 70000, "AWS", "--wait", "1")
    tap.check(rc == EXIT["pending"] and j["status"] == "needs_approval" and
              j.get("timed_out") is True, "--wait that times out exits 2")
    # The decision arrives while dino waits.
    key = "wait-test-%d" % os.getpid()
    t0 = time.monotonic()
    proc = subprocess.Popen([DINO, "--socket", fa.sock, "--json", "spend",
                             "--amount-cents", "80000", "--currency", "usd",
                             "--merchant", "AWS", "--reason", "r",
                             "--idempotency-key", key, "--wait", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sid = None
    deadline = time.monotonic() + 10
    while sid is None and time.monotonic() < deadline:
        with fa.lock:
            for s in fa.spends.values():
                if s["idempotency_key"] == key:
                    sid = s["id"]
        time.sleep(0.05)
    fa.decide_later(sid, 0.3)
    out, _ = proc.communicate(timeout=25)
    j = json.loads(out)
    tap.check(proc.returncode == 0 and j["status"] == "approved" and
              j["id"] == sid, "--wait returns the decision: exit 0")
    tap.check(time.monotonic() - t0 < 15, "the waiter woke on the decision")


def test_spend_wait_fails(fa):
    fa.script("wait_spend", 501, {"error": {
        "code": "not_implemented", "message": "wait_spend is not available"}})
    rc, j, err = jspend(fa, 70000, "AWS", "--wait", "5")
    tap.check(rc == EXIT["pending"] and j["status"] == "needs_approval" and
              "waiting failed" in err,
              "--wait that fails keeps the pending spend: exit 2")


def test_spend_submitting_retried_same_key(fa):
    before = len(fa.creates())
    rc, j, _ = jspend(fa, 1300, "Slow")
    sent = fa.creates()[before:]
    tap.check(rc == 0 and j["status"] == "approved",
              "submitting twice, then approved: exit 0")
    tap.check(len(sent) == 3 and
              len({s["idempotency_key"] for s in sent}) == 1,
              "every retry reused the one key")
    before = len(fa.creates())
    rc, j, _ = jspend(fa, 1300, "Flaky")
    sent = fa.creates()[before:]
    tap.check(rc == 0 and len(sent) == 2 and
              sent[0]["idempotency_key"] == sent[1]["idempotency_key"],
              "a 503 is retried with the same key")


def test_spend_submitting_gives_up(fa):
    for _ in range(6):
        fa.script("create_spend", 504, {"error": {
            "code": "submitting", "message": "outcome not yet known"}})
    before = len(fa.creates())
    rc, out, err = spend(fa)
    tap.check(rc == EXIT["pending"] and "--idempotency-key dino-" in err,
              "still submitting after retries: exit 2, never declined, "
              "names the key")
    tap.check(len(fa.creates()) - before == 5, "retries are bounded (5)")
    with fa.lock:
        fa.scripted.pop("create_spend", None)


def test_replay_and_conflict(fa):
    key = "replay-%d" % os.getpid()
    rc1, j1, _ = jspend(fa, 1400, "AWS", "--idempotency-key", key)
    rc2, j2, _ = jspend(fa, 1400, "AWS", "--idempotency-key", key)
    tap.check(rc1 == rc2 == 0 and j1["id"] == j2["id"] and
              j2.get("replayed") is True, "same key, same spend: replayed")
    rc, j, err = jspend(fa, 1401, "AWS", "--idempotency-key", key)
    tap.check(rc == EXIT["invalid"] and
              j["error"]["code"] == "idempotency_key_conflict",
              "same key, other body: 409 exits 65")


def test_refusals(fa):
    rc, out, err = spend(fa, 1200, "Blocked")
    tap.check(rc == EXIT["refused"] and "policy_denied" in err and
              out == "", "policy_denied exits 77, message on stderr")
    fa.paused = True
    try:
        rc, j, _ = jspend(fa)
    finally:
        fa.paused = False
    tap.check(rc == EXIT["refused"] and j["error"]["code"] == "paused",
              "paused exits 77 and is not retried")
    fa.script("get_balance", 403, {"error": {
        "code": "unknown_principal", "message": "this uid is not a "
        "principal"}})
    rc, _, err = dino(fa, "balance")
    tap.check(rc == EXIT["refused"] and "unknown_principal" in err,
              "unknown_principal exits 77")


def test_invalid_request(fa):
    rc, j, _ = dino(fa, "--json", "spend", "--amount-cents", "5",
                    "--currency", "USD", "--merchant", "m", "--reason", "")
    tap.check(rc == EXIT["invalid"] and
              json.loads(j)["error"]["code"] == "invalid_request",
              "the API's 400 exits 65")


def test_rate_limited_and_internal(fa):
    fa.script("get_balance", 429, {"error": {"code": "rate_limited",
                                             "message": "slow down"}})
    rc, _, _ = dino(fa, "balance")
    tap.check(rc == EXIT["rate_limited"], "429 exits 75")
    fa.script("get_balance", 500, {"error": {"code": "internal_error",
                                             "message": "oops"}})
    rc, _, _ = dino(fa, "balance")
    tap.check(rc == EXIT["internal"], "500 exits 70")
    fa.script("get_balance", 200, b"not json at all")
    rc, out, err = dino(fa, "--json", "balance")
    tap.check(rc == EXIT["internal"] and "error" in json.loads(out),
              "a 200 that is not JSON exits 70, --json still prints JSON")
    fa.script("get_balance", 502, {"error": {"code": "upstream_error",
                                             "message": "Dino failed"}})
    rc, _, _ = dino(fa, "balance")
    tap.check(rc == EXIT["unavailable"], "502 exits 69")


def test_balance_and_tools(fa):
    rc, out, _ = dino(fa, "balance")
    tap.check(rc == 0 and "wallet available: 100000.00 usd" in out,
              "balance, human")
    rc, out, _ = dino(fa, "--json", "balance")
    tap.check(rc == 0 and json.loads(out)["remaining_budget_cents"] ==
              4998800, "balance, --json")
    rc, out, _ = dino(fa, "tools")
    tap.check(rc == 0 and "create_spend" in out and "wait_spend" in out,
              "tools, human")
    rc, out, _ = dino(fa, "tools", "--json")
    doc = json.loads(out)
    tap.check(rc == 0 and len(doc["tools"]) == 4 and
              "inputSchema" in doc["tools"][0], "tools, --json after the "
              "command")


def test_get_and_wait(fa):
    _, j, _ = jspend(fa, 1200)
    rc, out, _ = dino(fa, "get", j["id"])
    tap.check(rc == 0 and j["id"] in out, "get of an approved spend: 0")
    _, p, _ = jspend(fa, 90000)
    rc, out, _ = dino(fa, "--json", "get", p["id"])
    tap.check(rc == EXIT["pending"] and json.loads(out)["status"] ==
              "needs_approval", "get of a pending spend: 2")
    rc, out, _ = dino(fa, "wait", p["id"], "--timeout", "1")
    tap.check(rc == EXIT["pending"] and "Still pending" in out,
              "wait that times out: 2")
    fa.decide(p["id"], "declined")
    rc, out, _ = dino(fa, "wait", p["id"], "--timeout", "5")
    tap.check(rc == EXIT["declined"], "wait on a declined spend: 1")
    rc, out, err = dino(fa, "get", "req_" + "0" * 26)
    tap.check(rc == EXIT["not_found"] and "not_found" in err,
              "get of an unknown id: 66")


def test_socket_selection(fa):
    rc, out, _ = dino(fa, "balance", socket=False,
                      env={"DINO_SOCKET": fa.sock})
    tap.check(rc == 0, "$DINO_SOCKET is used without --socket")
    rc, _, err = dino(fa, "--socket", "/nonexistent/agent.sock", "balance",
                      socket=False, env={"DINO_SOCKET": fa.sock})
    tap.check(rc == EXIT["unavailable"] and "/nonexistent" in err,
              "--socket wins over $DINO_SOCKET")
    rc, out, err = dino(fa, "--json", "balance", socket=False,
                        env={"DINO_SOCKET": "/nonexistent/agent.sock"})
    tap.check(rc == EXIT["unavailable"] and
              json.loads(out)["error"]["code"] == "unavailable",
              "unreachable socket: 69, --json prints an error document")


def test_unreachable_spend_keeps_key(fa):
    with tempfile.TemporaryDirectory() as d:
        rc, out, err = dino(fa, "--socket", os.path.join(d, "none.sock"),
                            "spend", "--amount-cents", "5", "--currency",
                            "usd", "--merchant", "m", "--reason", "",
                            socket=False)
    tap.check(rc == EXIT["unavailable"] and "--idempotency-key dino-" in err,
              "spend with no broker: 69, names the key to retry with")


def test_agent_label(fa):
    dino(fa, "--agent", "ci-bot", "balance")
    with fa.lock:
        h = fa.requests[-1][2]
    tap.check(h.get("X-Dino-Agent") == "ci-bot", "--agent sets X-Dino-Agent")
    rc, _, _ = dino(fa, "--agent", "two words", "balance")
    tap.check(rc == EXIT["usage"], "a bad --agent label is a usage error")


def test_terminal_safety(fa):
    fa.script("get_balance", 200, {"currency": "usd",
                                   "budget_period": "mon\x1b[2Jthly"})
    rc, out, _ = dino(fa, "balance")
    tap.check(rc == 0 and "\x1b" not in out and "mon?[2Jthly" in out,
              "control bytes from the socket never reach the terminal")


tap.run(globals(), setup, teardown)
