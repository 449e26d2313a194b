"""`dino mcp` over stdio against a fake agent API: scripted conversations in
both protocol eras (2025-06-18 / 2025-11-25 with initialize, 2026-07-28
with per-request _meta), every tool, needs_approval then
wait_for_decision, bad arguments, unknown methods, malformed and oversized
lines, ids, and EOF in the middle of a request."""
import json
import os
import selectors
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
import tap  # noqa: E402
from fakeagent import FakeAgent  # noqa: E402
from schemacheck import Validator  # noqa: E402

BUILD = os.environ.get("DINO_BUILD", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
DINO = os.path.join(BUILD, "dino")
MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"}}
LINE_MAX = 1024 * 1024


class Mcp:
    """One `dino mcp` process; send() a message, recv() the next line."""

    def __init__(self, sock):
        self.p = subprocess.Popen([DINO, "--socket", sock, "mcp"],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.p.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.next_id = 1

    def raw(self, data):
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def send(self, msg):
        self.raw(json.dumps(msg).encode() + b"\n")

    def recv(self, timeout=20):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise TimeoutError("no answer from dino mcp")
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("dino mcp closed stdout")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def quiet(self, wait=0.3):
        """True if nothing arrives within wait seconds."""
        return b"\n" not in self.buf and not self.sel.select(wait)

    def request(self, method, params=None, modern=False, rid=None):
        if rid is None:
            rid = self.next_id
            self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None or modern:
            msg["params"] = dict(params or {})
            if modern:
                msg["params"]["_meta"] = dict(META)
        self.send(msg)
        return self.recv()

    def call(self, name, args, modern=False):
        r = self.request("tools/call", {"name": name, "arguments": args},
                         modern=modern)
        return r.get("result"), r

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            rc = self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            rc = None
        self.p.stdout.close()
        self.p.stderr.close()
        return rc


def legacy(fa, version="2025-11-25"):
    m = Mcp(fa.sock)
    r = m.request("initialize", {"protocolVersion": version,
                                 "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "1"}})
    m.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return m, r


def setup():
    return FakeAgent()


def teardown(fa):
    if fa is not None:
        tap.check(fa.invalid == [], "every fake answer fits openapi.yaml")
        fa.close()


def text_of(res):
    return "".join(b["text"] for b in res["content"] if b["type"] == "text")


def test_legacy_handshake(fa):
    for asked, want in (("2025-11-25", "2025-11-25"),
                        ("2025-06-18", "2025-06-18"),
                        ("2024-11-05", "2025-11-25"),
                        (MODERN, "2025-11-25")):
        m, r = legacy(fa, asked)
        res = r.get("result", {})
        tap.check(r["id"] == 1 and res.get("protocolVersion") == want,
                  "initialize %s answers %s" % (asked, want))
        tap.check("tools" in res.get("capabilities", {}) and
                  res.get("serverInfo", {}).get("name") == "dino" and
                  "resultType" not in res, "legacy result shape (%s)" % asked)
        # notifications/initialized got no answer: the next line is ping's.
        p = m.request("ping")
        tap.check(p.get("id") == 2 and p.get("result") == {},
                  "no answer to the notification; ping works (%s)" % asked)
        tap.check(m.close() == 0, "exits 0 on EOF (%s)" % asked)
    m = Mcp(fa.sock)
    r = m.request("initialize", {"capabilities": {}})
    tap.check(r.get("error", {}).get("code") == -32602 and
              "supported" in r["error"].get("data", {}),
              "initialize without protocolVersion: -32602 with supported")
    m.close()


def test_legacy_tools_list(fa):
    m, _ = legacy(fa)
    r = m.request("tools/list")
    tools = r["result"]["tools"]
    names = [t["name"] for t in tools]
    tap.check(names == ["create_spend", "get_balance", "get_spend",
                        "wait_for_decision"], "four tools, fixed order")
    api = {t["name"]: t for t in fa.tools_doc()["tools"]}
    pairs = [("create_spend", "create_spend"), ("get_balance", "get_balance"),
             ("get_spend", "get_spend"), ("wait_for_decision", "wait_spend")]
    same = all(tools[i]["inputSchema"] == api[a]["inputSchema"] and
               tools[i]["outputSchema"] == api[a]["outputSchema"]
               for i, (_, a) in enumerate(pairs))
    tap.check(same, "schemas are GET /tools' own")
    desc = tools[0]["description"]
    tap.check("needs_approval" in desc and "wait_for_decision" in desc,
              "create_spend's description explains needs_approval")
    tap.check("resultType" not in r["result"] and
              "ttlMs" not in r["result"], "no modern fields in legacy")
    before = sum(1 for _, p, _, _ in fa.requests if p == "/tools")
    m.request("tools/list")
    after = sum(1 for _, p, _, _ in fa.requests if p == "/tools")
    tap.check(after == before, "GET /tools is fetched once per session")
    m.close()


def test_modern_era(fa):
    m = Mcp(fa.sock)
    r = m.request("server/discover", modern=True)
    res = r.get("result", {})
    tap.check(MODERN in res.get("supportedVersions", []) and
              "2025-11-25" in res["supportedVersions"] and
              res.get("resultType") == "complete" and
              "tools" in res.get("capabilities", {}),
              "server/discover lists both eras, resultType complete")
    r = m.request("tools/list", modern=True)
    res = r.get("result", {})
    tap.check(len(res.get("tools", [])) == 4 and
              res.get("resultType") == "complete" and
              isinstance(res.get("ttlMs"), int) and "cacheScope" in res,
              "modern tools/list: resultType, ttlMs, cacheScope")
    res, _ = m.call("get_balance", {}, modern=True)
    tap.check(res.get("resultType") == "complete" and
              res["structuredContent"]["currency"] == "usd",
              "modern tools/call without initialize")
    m.send({"jsonrpc": "2.0", "id": 9, "method": "tools/list",
            "params": {"_meta": {
                "io.modelcontextprotocol/protocolVersion": "2099-01-01"}}})
    r = m.recv()
    e = r.get("error", {})
    tap.check(r["id"] == 9 and e.get("code") == -32022 and
              e["data"]["requested"] == "2099-01-01" and
              MODERN in e["data"]["supported"],
              "unsupported version: -32022 with supported and requested")
    r = m.request("ping", modern=True)
    tap.check(r.get("error", {}).get("code") == -32601,
              "ping is gone in 2026-07-28")
    tap.check(m.close() == 0, "modern session exits 0 on EOF")


def test_every_tool(fa):
    m, _ = legacy(fa)
    out = {t["name"]: t["outputSchema"]
           for t in m.request("tools/list")["result"]["tools"]}
    v = Validator()
    res, _ = m.call("create_spend", {"amount_cents": 1200, "currency": "usd",
                                     "merchant_name": "AWS", "reason": "t"})
    sc = res["structuredContent"]
    tap.check(res["isError"] is False and sc["status"] == "approved" and
              "Approved" in text_of(res), "create_spend approved")
    tap.check(v.errors(sc, out["create_spend"]) == [],
              "structuredContent fits outputSchema")
    tap.check(json.loads(text_of(res).split("\n\n", 1)[1]) == sc,
              "the text block carries the same object as JSON")
    tap.check(sc["idempotency_key"].startswith("dino-"),
              "the adapter made an idempotency key")
    res, _ = m.call("get_balance", {})
    tap.check(res["isError"] is False and
              v.errors(res["structuredContent"], out["get_balance"]) == [],
              "get_balance")
    res2, _ = m.call("get_spend", {"id": sc["id"]})
    tap.check(res2["isError"] is False and
              res2["structuredContent"]["id"] == sc["id"], "get_spend")
    res3, _ = m.call("wait_for_decision", {"id": sc["id"], "timeout_s": 1})
    tap.check(res3["isError"] is False and
              res3["structuredContent"]["status"] == "approved",
              "wait_for_decision of a decided spend returns at once")
    m.close()


def test_needs_approval_then_wait(fa):
    m, _ = legacy(fa)
    res, _ = m.call("create_spend", {"amount_cents": 75000, "currency": "usd",
                                     "merchant_name": "AWS", "reason": "r"})
    sc = res["structuredContent"]
    text = text_of(res)
    tap.check(res["isError"] is False and sc["status"] == "needs_approval",
              "needs_approval is not an error")
    tap.check("wait_for_decision" in text and "not a decline" in text and
              sc["id"] in text, "the text tells the model to wait")
    res, _ = m.call("wait_for_decision", {"id": sc["id"], "timeout_s": 1})
    tap.check(res["isError"] is False and
              res["structuredContent"].get("timed_out") is True and
              "wait_for_decision again" in text_of(res),
              "a wait that times out says to wait again")
    fa.decide_later(sc["id"], 0.3)
    t0 = time.monotonic()
    res, _ = m.call("wait_for_decision", {"id": sc["id"], "timeout_s": 20})
    tap.check(res["isError"] is False and
              res["structuredContent"]["status"] == "approved" and
              time.monotonic() - t0 < 10,
              "wait_for_decision wakes with the approval")
    m.close()


def test_business_errors(fa):
    m, _ = legacy(fa)
    res, _ = m.call("create_spend", {"amount_cents": 1200, "currency": "usd",
                                     "merchant_name": "Casino", "reason": ""})
    tap.check(res["isError"] is True and
              res["structuredContent"]["status"] == "declined" and
              "final" in text_of(res), "declined: isError with the spend")
    res, _ = m.call("create_spend", {"amount_cents": 1200, "currency": "usd",
                                     "merchant_name": "Blocked",
                                     "reason": ""})
    tap.check(res["isError"] is True and "structuredContent" not in res and
              "policy_denied" in text_of(res), "policy refusal: isError")
    res, _ = m.call("create_spend", {"amount_cents": 1200, "currency": "USD",
                                     "merchant_name": "AWS", "reason": ""})
    tap.check(res["isError"] is True and "invalid_request" in text_of(res),
              "the API's 400 comes back as isError the model can fix")
    res, _ = m.call("get_spend", {"id": "req_" + "0" * 26})
    tap.check(res["isError"] is True and "not_found" in text_of(res),
              "unknown spend: isError not_found")
    m.close()


def test_adapter_key_and_retries(fa):
    m, _ = legacy(fa)
    before = len(fa.creates())
    res, _ = m.call("create_spend", {"amount_cents": 1500, "currency": "usd",
                                     "merchant_name": "Slow", "reason": ""})
    sent = fa.creates()[before:]
    tap.check(res["isError"] is False and
              res["structuredContent"]["status"] == "approved" and
              len(sent) == 3 and len({s["idempotency_key"]
                                      for s in sent}) == 1,
              "submitting is retried with the adapter's one key")
    before = len(fa.creates())
    m.call("create_spend", {"amount_cents": 1500, "currency": "usd",
                            "merchant_name": "AWS", "reason": ""})
    m.call("create_spend", {"amount_cents": 1500, "currency": "usd",
                            "merchant_name": "AWS", "reason": ""})
    sent = fa.creates()[before:]
    tap.check(len(sent) == 2 and
              sent[0]["idempotency_key"] != sent[1]["idempotency_key"],
              "a new key per tool call")
    res, _ = m.call("create_spend", {"amount_cents": 1500, "currency": "usd",
                                     "merchant_name": "AWS", "reason": "",
                                     "idempotency_key": "model-key-1"})
    tap.check(fa.creates()[-1]["idempotency_key"] == "model-key-1",
              "the model's own key is passed through")
    for _ in range(6):
        fa.script("create_spend", 504, {"error": {
            "code": "submitting", "message": "outcome not yet known"}})
    res, _ = m.call("create_spend", {"amount_cents": 1600, "currency": "usd",
                                     "merchant_name": "AWS", "reason": ""})
    t = text_of(res)
    tap.check(res["isError"] is True and "not a decline" in t and
              "idempotency_key: \"dino-" in t,
              "outcome still unknown: says so and names the key")
    with fa.lock:
        fa.scripted.pop("create_spend", None)
    m.close()


def test_bad_arguments(fa):
    m, _ = legacy(fa)
    for args, name in (({"id": "../../etc/passwd"}, "a path as id"),
                       ({"id": 5}, "a number as id"),
                       ({}, "no id"),
                       ({"id": "req_" + "0" * 26, "x": 1}, "unknown arg")):
        res, _ = m.call("get_spend", args)
        tap.check(res["isError"] is True and "Invalid arguments" in
                  text_of(res), "get_spend, %s: isError" % name)
    res, _ = m.call("wait_for_decision", {"id": "req_" + "0" * 26,
                                          "timeout_s": 301})
    tap.check(res["isError"] is True, "timeout_s above 300: isError")
    res, _ = m.call("get_balance", {"extra": True})
    tap.check(res["isError"] is True, "get_balance takes no arguments")
    tap.check(not any(".." in p for _, p, _, _ in fa.requests),
              "no bad id reached the socket")
    _, r = m.call("no_such_tool", {})
    tap.check(r.get("error", {}).get("code") == -32602, "unknown tool: -32602")
    r = m.request("tools/call", {"name": "get_balance", "arguments": [1]})
    tap.check(r.get("error", {}).get("code") == -32602,
              "arguments not an object: -32602")
    r = m.request("tools/call", {"arguments": {}})
    tap.check(r.get("error", {}).get("code") == -32602, "no name: -32602")
    m.close()


def test_protocol_errors(fa):
    m, _ = legacy(fa)
    r = m.request("resources/list", rid="u1")
    tap.check(r.get("error", {}).get("code") == -32601 and r["id"] == "u1",
              "unknown method: -32601")
    m.raw(b"{not json\n")
    r = m.recv()
    tap.check(r.get("error", {}).get("code") == -32700 and r["id"] is None,
              "malformed line: -32700 with id null")
    m.raw(b'{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}\n')
    tap.check(m.recv().get("error", {}).get("code") == -32700,
              "duplicate member names: -32700")
    for bad, name in (([], "empty batch"),
                      ([{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
                       "batch"),
                      ({"jsonrpc": "1.0", "id": 1, "method": "ping"},
                       "jsonrpc 1.0"),
                      ({"jsonrpc": "2.0", "id": 1, "method": 5},
                       "method not a string"),
                      ({"jsonrpc": "2.0", "id": None, "method": "ping"},
                       "id null"),
                      ({"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
                       "fractional id"),
                      ({"jsonrpc": "2.0", "id": [1], "method": "ping"},
                       "array id"),
                      ({"jsonrpc": "2.0", "id": 1, "method": "ping",
                        "params": [1]}, "params an array")):
        m.send(bad)
        r = m.recv()
        want = bad.get("id") if isinstance(bad, dict) and \
            isinstance(bad.get("id"), (int, str)) else None
        tap.check(r.get("error", {}).get("code") == -32600 and
                  r.get("id") == want,
                  "invalid request (%s): -32600, id %r" % (name, want))
    m.send({"jsonrpc": "2.0", "method": "notifications/whatever"})
    m.send({"jsonrpc": "2.0", "result": {}, "id": 77})
    tap.check(m.quiet(), "unknown notifications and stray responses get "
              "no answer")
    m.raw(b"\n  \r\n")
    tap.check(m.quiet(0.2), "blank lines are ignored")
    tap.check(m.request("ping")["result"] == {}, "still serving")
    m.close()


def test_ids(fa):
    m, _ = legacy(fa)
    for rid in (0, "0", "abc", "", 42, -7, 9007199254740991, "x" * 300):
        r = m.request("ping", rid=rid)
        tap.check(r.get("id") == rid and type(r["id"]) is type(rid) and
                  r.get("result") == {}, "id %r echoed exactly" % (rid,)
                  if len(str(rid)) < 20 else "a long string id echoed")
    m.raw(b'{"jsonrpc":"2.0","id":1e3,"method":"ping"}\n')
    r = m.recv()
    tap.check(r.get("id") == 1000, "id 1e3 is the integer 1000")
    m.close()


def test_long_lines(fa):
    m, _ = legacy(fa)
    pad = LINE_MAX - 200
    big = {"jsonrpc": "2.0", "id": 5, "method": "ping",
           "params": {"pad": "x" * pad}}
    line = json.dumps(big).encode()
    tap.check(len(line) < LINE_MAX, "the near-cap line is under the cap")
    m.raw(line + b"\n")
    r = m.recv()
    tap.check(r.get("id") == 5 and r.get("result") == {},
              "a line just under 1 MiB is served")
    m.raw(b'{"jsonrpc":"2.0","id":6,"method":"ping","params":{"pad":"' +
          b"y" * LINE_MAX + b'"}}\n')
    r = m.recv()
    tap.check(r.get("error", {}).get("code") == -32700 and
              r["id"] is None and "longer" in r["error"]["message"],
              "a line over 1 MiB: -32700")
    m.raw(b"z" * (3 * LINE_MAX) + b"\n")
    r = m.recv()
    tap.check(r.get("error", {}).get("code") == -32700,
              "a 3 MiB line: -32700, one answer")
    tap.check(m.request("ping", rid=7).get("result") == {},
              "the server keeps serving after long lines")
    tap.check(m.p.poll() is None, "no crash")
    m.close()


def test_eof_mid_request(fa):
    m, _ = legacy(fa)
    m.raw(b'{"jsonrpc":"2.0","id":3,"method":"tools/li')
    t0 = time.monotonic()
    rc = m.close()
    tap.check(rc == 0 and time.monotonic() - t0 < 5,
              "EOF in the middle of a request: exit 0 at once")
    m2 = Mcp(fa.sock)
    m2.raw(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')
    rc = m2.close()
    tap.check(rc == 0, "a last line without newline is not answered")


def test_stdout_is_protocol_only(fa):
    m = Mcp(fa.sock)
    m.request("initialize", {"protocolVersion": "2025-11-25"})
    m.raw(b"garbage\n")
    m.call("create_spend", {"amount_cents": 1, "currency": "usd",
                            "merchant_name": "AWS", "reason": ""})
    m.p.stdin.close()
    rest = m.p.stdout.read()
    m.p.wait(timeout=10)
    err = m.p.stderr.read()
    lines = (m.buf + rest).split(b"\n")
    ok = all(json.loads(ln).get("jsonrpc") == "2.0" for ln in lines if ln)
    tap.check(ok, "every stdout line is a JSON-RPC message")
    tap.check(b"mcp_parse_error" in err, "logs go to stderr")
    m.p.stdout.close()
    m.p.stderr.close()


def test_broker_unreachable(fa):
    m = Mcp("/nonexistent/agent.sock")
    r = m.request("tools/list")
    tap.check(r.get("error", {}).get("code") == -32603,
              "tools/list with no socket: -32603")
    res, _ = m.call("get_balance", {})
    tap.check(res["isError"] is True and "unreachable" in text_of(res),
              "a tool call with no socket: isError, unreachable")
    tap.check(m.close() == 0, "exits 0 on EOF")


tap.run(globals(), setup, teardown)
