"""The dino CLI and `dino mcp` against the real dino-frontend: first in front
of tests/lib/fakebroker.py (canned answers, always available once built),
then against the whole stack of tests/lib/stack.py (sandbox, broker,
frontend) when it starts.  Answers printed with --json are checked against
docs/openapi.yaml."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import tap  # noqa: E402
import schemacheck  # noqa: E402
from fakeagent import RealFrontend  # noqa: E402

BUILD = os.environ.get("DINO_BUILD", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
DINO = os.path.join(BUILD, "dino")
API = schemacheck.OpenAPI()
SPEND = {"$ref": "#/components/schemas/Spend"}


def dino(sock, *args, user=None, timeout=40):
    kw = {}
    if user is not None:
        kw = {"user": user, "group": user, "extra_groups": []}
    p = subprocess.run([DINO, "--socket", sock] + list(args),
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kw)
    return p.returncode, p.stdout, p.stderr


def spend(sock, amount, merchant="AWS", *extra):
    rc, out, err = dino(sock, "--json", "spend", "--amount-cents",
                        str(amount), "--currency", "usd", "--merchant",
                        merchant, "--reason", "cli stack test", *extra)
    try:
        j = json.loads(out)
    except ValueError:
        j = {"unparsed": out, "stderr": err}
    return rc, j


def fits(j):
    return API.v.errors(j, SPEND) == []


def mcp_session(sock, lines):
    """Sends lines to `dino mcp`, closes stdin, returns the answers."""
    data = "".join(json.dumps(m) + "\n" for m in lines)
    p = subprocess.run([DINO, "--socket", sock, "mcp"], input=data,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, [json.loads(ln) for ln in p.stdout.splitlines()]


def test_real_frontend():
    fe = RealFrontend(BUILD)
    try:
        from fakebroker import KNOWN_ID
        rc, j = spend(fe.sock, 1200)
        tap.check(rc == 0 and j["status"] == "approved" and fits(j),
                  "frontend: spend approved, exit 0, fits Spend")
        sent = fe.broker.of_type(4)     # MSG_CREATE_SPEND
        tap.check(sent and sent[-1][2]["idempotency_key"].startswith(
            "dino-"), "frontend: the CLI's key reached the broker")
        rc, j = spend(fe.sock, 777)
        tap.check(rc == 2 and j["status"] == "needs_approval",
                  "frontend: needs_approval exits 2")
        before = len(fe.broker.of_type(4))
        rc, j = spend(fe.sock, 888)
        sent = fe.broker.of_type(4)[before:]
        tap.check(rc == 2 and j["status"] == "submitting" and
                  len(sent) == 5 and
                  len({s[2]["idempotency_key"] for s in sent}) == 1,
                  "frontend: 202 submitting retried 5 times with one key, "
                  "exit 2")
        rc, j = spend(fe.sock, 999)
        tap.check(rc == 65 and j["error"]["code"] ==
                  "idempotency_key_conflict", "frontend: 409 exits 65")
        rc, out, _ = dino(fe.sock, "--json", "get", KNOWN_ID)
        tap.check(rc == 0 and fits(json.loads(out)), "frontend: get")
        rc, out, _ = dino(fe.sock, "get", "req_" + "0" * 26)
        tap.check(rc == 66, "frontend: get of an unknown id exits 66")
        rc, out, _ = dino(fe.sock, "--json", "balance")
        tap.check(rc == 0 and API.response_errors(
            "GET", "/tools/get_balance", 200, json.loads(out)) == [],
            "frontend: balance fits openapi.yaml")
        rc, out, _ = dino(fe.sock, "--json", "tools")
        tap.check(rc == 0 and len(json.loads(out)["tools"]) == 4,
                  "frontend: tools")
        rc, answers = mcp_session(fe.sock, [
            {"jsonrpc": "2.0", "id": 0, "method": "initialize",
             "params": {"protocolVersion": "2025-11-25"}},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "create_spend", "arguments": {
                 "amount_cents": 777, "currency": "usd",
                 "merchant_name": "AWS", "reason": ""}}}])
        tools = {t["name"]: t for t in answers[1]["result"]["tools"]}
        i, o = API.tool_schemas("wait_spend")
        tap.check(rc == 0 and tools["wait_for_decision"]["inputSchema"] == i
                  and tools["wait_for_decision"]["outputSchema"] == o,
                  "frontend: dino mcp serves the frontend's schemas")
        res = answers[2]["result"]
        tap.check(res["isError"] is False and
                  res["structuredContent"]["status"] == "needs_approval",
                  "frontend: mcp needs_approval is not an error")
        tap.check(fits(res["structuredContent"]) and
                  isinstance(res["structuredContent"][
                      "remaining_monthly_budget_cents"], int),
                  "frontend: structuredContent fits Spend, 10^15 stays an "
                  "integer")
    finally:
        fe.close()


def test_whole_stack():
    from stack import Stack
    st = Stack()
    st.__enter__()
    try:
        whole_stack(st)
    finally:
        st.stop()


def whole_stack(st):
    s = st.agent_sock
    rc, j = spend(s, 1200)
    tap.check(rc == 0 and j.get("status") == "approved" and fits(j),
              "stack: approved exits 0")
    key = "stack-replay-%d" % os.getpid()
    rc1, j1 = spend(s, 1300, "AWS", "--idempotency-key", key)
    rc2, j2 = spend(s, 1300, "AWS", "--idempotency-key", key)
    tap.check(rc1 == rc2 == 0 and j1.get("id") == j2.get("id"),
              "stack: a replay with the same key is the same spend")
    rc, p = spend(s, 60000)
    tap.check(rc == 2 and p.get("status") == "needs_approval" and fits(p),
              "stack: needs approval exits 2")
    rc, j = spend(s, 1200, "Casino")
    tap.check(rc == 1 and j.get("status") == "declined",
              "stack: declined exits 1")
    rc, j = spend(s, 1200, "Blocked")
    tap.check(rc == 77 and j["error"]["code"] == "policy_denied",
              "stack: local policy refusal exits 77")
    rc, out, _ = dino(s, "balance")
    tap.check(rc == 0 and "wallet available:" in out, "stack: balance")
    rc, out, _ = dino(s, "tools")
    tap.check(rc == 0 and "create_spend" in out, "stack: tools")
    if "id" in p:
        rc, out, _ = dino(s, "--json", "get", p["id"])
        tap.check(rc == 2 and json.loads(out)["id"] == p["id"],
                  "stack: get of the pending spend exits 2")
        rc, out, err = dino(s, "--json", "wait", p["id"], "--timeout", "1")
        tap.check(rc == 2 and json.loads(out).get("timed_out") is True,
                  "stack: wait that times out exits 2")
    if "id" in p:
        code, _ = st.sandbox("POST", "/_sandbox/spends/%s/approve" % p["id"])
        rc, out, _ = dino(s, "--json", "get", p["id"])
        tap.check(code == 200 and rc == 0 and
                  json.loads(out)["status"] == "approved",
                  "stack: the operator approves; dino get then exits 0")
        rc, out, _ = dino(s, "--json", "wait", p["id"], "--timeout", "5")
        tap.check(rc == 0 and json.loads(out)["status"] == "approved",
                  "stack: wait on a decided spend returns at once, 0")
    rc, d = spend(s, 70000)
    if "id" in d:
        code, _ = st.sandbox("POST", "/_sandbox/spends/%s/decline" % d["id"])
        rc, out, _ = dino(s, "get", d["id"])
        tap.check(code == 200 and rc == 1 and "declined" in out,
                  "stack: the operator declines; dino get exits 1")
    rc, out, err = dino(s, "--json", "balance", user=65534)
    tap.check(rc == 77 and json.loads(out)["error"]["code"] ==
              "unknown_principal", "stack: an unknown uid is refused, 77")
    rc, answers = mcp_session(s, [
        {"jsonrpc": "2.0", "id": "d", "method": "server/discover",
         "params": {"_meta": {
             "io.modelcontextprotocol/protocolVersion": "2026-07-28"}}},
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
         "params": {"name": "create_spend", "arguments": {
             "amount_cents": 1200, "currency": "usd",
             "merchant_name": "AWS", "reason": "mcp"},
             "_meta": {"io.modelcontextprotocol/protocolVersion":
                       "2026-07-28"}}}])
    res = answers[1]["result"]
    mcp_approval_flow(st)
    tap.check(rc == 0 and res["resultType"] == "complete" and
              res["isError"] is False and
              res["structuredContent"]["status"] == "approved" and
              fits(res["structuredContent"]),
              "stack: mcp create_spend (2026-07-28) approved")


def test_waiters_wake():
    """An agent waits (CLI and MCP), the operator approves in the sandbox,
    the signed webhook reaches the broker and both waiters wake."""
    from stack import Stack
    st = Stack(webhooks=True)
    st.__enter__()
    try:
        waiters_wake(st)
    finally:
        st.stop()


def waiters_wake(st):
    import time
    s = st.agent_sock
    key = "e2e-wait-%d" % os.getpid()
    cli = subprocess.Popen([DINO, "--socket", s, "--json", "spend",
                            "--amount-cents", "60000", "--currency", "usd",
                            "--merchant", "AWS", "--reason", "e2e",
                            "--idempotency-key", key, "--wait", "25"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    mcp = subprocess.Popen([DINO, "--socket", s, "mcp"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, text=True)
    try:
        mcp.stdin.write(json.dumps({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "create_spend", "arguments": {
                "amount_cents": 61000, "currency": "usd",
                "merchant_name": "AWS", "reason": "e2e mcp"}}}) + "\n")
        mcp.stdin.flush()
        sc = json.loads(mcp.stdout.readline())["result"]["structuredContent"]
        mcp.stdin.write(json.dumps({
            "jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "wait_for_decision", "arguments": {
                "id": sc["id"], "timeout_s": 25}}}) + "\n")
        mcp.stdin.flush()
        # The CLI's spend, by replaying its key: the same spend comes back.
        deadline = time.monotonic() + 10
        code, j = 0, {}
        while time.monotonic() < deadline:
            code, _, j = st.create(60000, "AWS", "e2e", key=key)
            if code == 200:
                break
            time.sleep(0.1)
        time.sleep(0.5)
        t0 = time.monotonic()
        for sid in (j.get("id"), sc["id"]):
            st.sandbox("POST", "/_sandbox/spends/%s/approve" % sid)
        out, _ = cli.communicate(timeout=30)
        r = json.loads(mcp.stdout.readline())["result"]
        took = time.monotonic() - t0
        tap.check(cli.returncode == 0 and json.loads(out)["status"] ==
                  "approved", "e2e: dino spend --wait wakes approved, 0")
        tap.check(r["isError"] is False and
                  r["structuredContent"]["status"] == "approved",
                  "e2e: wait_for_decision wakes with the approval")
        tap.check(took < 10, "e2e: both woke within %.1f s" % took)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
        mcp.stdin.close()
        mcp.wait(timeout=10)
        mcp.stdout.close()


def mcp_approval_flow(st):
    """needs_approval over MCP, the operator approves, the model reads it."""
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25"}}
    rc, a = mcp_session(st.agent_sock, [init, {
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "create_spend", "arguments": {
            "amount_cents": 65000, "currency": "usd",
            "merchant_name": "AWS", "reason": "mcp approval"}}}])
    res = a[1]["result"]
    sc = res.get("structuredContent", {})
    tap.check(rc == 0 and res["isError"] is False and
              sc.get("status") == "needs_approval" and
              "wait_for_decision" in res["content"][0]["text"],
              "stack: mcp needs_approval tells the model to wait")
    if "id" not in sc:
        return
    st.sandbox("POST", "/_sandbox/spends/%s/approve" % sc["id"])
    rc, a = mcp_session(st.agent_sock, [init, {
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "get_spend", "arguments": {"id": sc["id"]}}}])
    res = a[1]["result"]
    tap.check(res["isError"] is False and
              res["structuredContent"]["status"] == "approved" and
              fits(res["structuredContent"]),
              "stack: after the approval, mcp get_spend reads approved")


tap.run(globals())
