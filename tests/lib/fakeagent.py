"""A fake agent API (dino-frontend + broker + Dino, as the agent sees them)
for testing the dino CLI and `dino mcp` alone.  Standard library only.

It serves HTTP/1.1 on a UNIX socket in a private temporary directory, with
the routes of docs/openapi.yaml, and GET /tools built from that file's
schemas.  Every answer it gives is checked against docs/openapi.yaml and
any mismatch is kept in `invalid`, so the tests also catch drift between
the fake and the document.

Outcomes, chosen by the request (as the real stack's test seed does):
  merchant "Casino"            -> 200 declined
  merchant "Blocked"           -> 403 policy_denied
  merchant "Slow"              -> 202 submitting twice per key, then approved
  merchant "Flaky"             -> 503 broker_unavailable once, then approved
  amount_cents >= 50000        -> 200 needs_approval with an approval_url
  otherwise                    -> 200 approved
  same idempotency_key + body  -> the same spend, "replayed": true
  same key, other body         -> 409 idempotency_key_conflict
`script(route, status, body)` queues a canned answer for the next request
to a route ("create_spend", "get_balance", "get_spend", "wait_spend",
"tools"); body may be bytes (sent as is).  `decide(id, status)` settles a
pending spend and wakes its waiters; `paused = True` refuses creates.
"""
import http.server
import json
import os
import re
import secrets
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schemacheck  # noqa: E402

ID_RX = re.compile(r"^req_[0-9a-hjkmnp-tv-z]{26}$")
ULID = "0123456789abcdefghjkmnpqrstvwxyz"
FIELDS = {"amount_cents", "currency", "merchant_name", "reason",
          "idempotency_key"}


def now_iso():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + \
        ".%03dZ" % int((t % 1) * 1000)


def new_id():
    return "req_" + "".join(secrets.choice(ULID) for _ in range(26))


def err(status, code, message):
    return status, {"error": {"code": code, "message": message}}


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeagent"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "unix"

    def _serve(self):
        fake = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        status, obj = fake.handle(self.command, self.path,
                                  dict(self.headers), body)
        data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


class FakeAgent:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="dino-fakeagent.")
        self.sock = os.path.join(self.dir, "agent.sock")
        self.api = schemacheck.OpenAPI()
        self.lock = threading.Condition()
        self.spends = {}
        self.keys = {}          # key -> (canonical body, id)
        self.attempts = {}      # key -> create attempts seen
        self.submitting = {}    # key -> spend answered "submitting"
        self.scripted = {}      # route -> [(status, body)]
        self.requests = []      # (method, path, headers, body bytes)
        self.invalid = []       # answers that do not fit openapi.yaml
        self.paused = False
        self.srv = _Server(self.sock, _Handler)
        self.srv.fake = self
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        with self.lock:
            self.lock.notify_all()
        self.srv.shutdown()
        self.srv.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- test controls -----------------------------------------------------
    def script(self, route, status, body):
        with self.lock:
            self.scripted.setdefault(route, []).append((status, body))

    def decide(self, spend_id, status="approved", reason="decided by test"):
        with self.lock:
            s = self.spends[spend_id]
            s.update(status=status, decision_reason=reason,
                     decided_at=now_iso(), updated_at=now_iso())
            s.pop("approval_url", None)
            self.lock.notify_all()

    def decide_later(self, spend_id, delay, status="approved"):
        t = threading.Timer(delay, self.decide, (spend_id, status))
        t.daemon = True
        t.start()
        return t

    def creates(self):
        with self.lock:
            return [json.loads(b) for m, p, h, b in self.requests
                    if p == "/tools/create_spend" and b]

    def tools_doc(self):
        tools = []
        for name in ("create_spend", "get_balance", "get_spend",
                     "wait_spend"):
            method, tmpl = self.api.tool_route(name)
            i, o = self.api.tool_schemas(name)
            _, op = self.api.operation(method, tmpl)
            tools.append({"name": name, "description": op["summary"],
                          "method": method, "path": tmpl +
                          ("?timeout_s=N" if name == "wait_spend" else ""),
                          "inputSchema": i, "outputSchema": o})
        return {"tools": tools,
                "errorSchema": self.api.deref(
                    {"$ref": "#/components/schemas/Error"})}

    # -- the API -----------------------------------------------------------
    def handle(self, method, path, headers, body):
        with self.lock:
            self.requests.append((method, path, headers, body))
        route, status, obj = self.route(method, path, headers, body)
        if not isinstance(obj, bytes):
            probs = self.api.response_errors(method, path, status, obj)
            if probs:
                with self.lock:
                    self.invalid.append((method, path, status, probs))
        return status, obj

    def route(self, method, path, headers, body):
        bare, _, query = path.partition("?")
        table = [("/tools/create_spend", "POST", "create_spend"),
                 ("/tools/get_balance", "GET", "get_balance"),
                 ("/tools/get_spend/", "GET", "get_spend"),
                 ("/tools/wait_spend/", "GET", "wait_spend"),
                 ("/tools", "GET", "tools"), ("/healthz", "GET", "healthz")]
        for prefix, want, name in table:
            if bare == prefix or (prefix.endswith("/") and
                                  bare.startswith(prefix)):
                break
        else:
            return None, *err(404, "not_found", "no such route")
        if method != want:
            return name, *err(405, "method_not_allowed", "use " + want)
        with self.lock:
            queue = self.scripted.get(name)
            canned = queue.pop(0) if queue else None
        if canned is not None:
            return (name,) + canned
        rest = bare[len(prefix):]
        if prefix.endswith("/") and not ID_RX.match(rest):
            return name, *err(400, "invalid_request", "id: bad spend id")
        fn = getattr(self, "r_" + name)
        return (name,) + fn(rest, query, headers, body)

    def r_healthz(self, rest, query, headers, body):
        return 200, {"status": "ok", "broker": "connected"}

    def r_tools(self, rest, query, headers, body):
        return 200, self.tools_doc()

    def r_get_balance(self, rest, query, headers, body):
        return 200, {"currency": "usd", "wallet_available_cents": 10000000,
                     "budget_period": "monthly", "budget_cents": 5000000,
                     "spent_cents": 1200, "remaining_budget_cents": 4998800,
                     "remaining_monthly_budget_cents": 4998800}

    def r_get_spend(self, rest, query, headers, body):
        with self.lock:
            s = self.spends.get(rest)
            return (200, dict(s)) if s else err(404, "not_found",
                                                "no such spend")

    def r_wait_spend(self, rest, query, headers, body):
        m = re.match(r"^timeout_s=(\d{1,3})$", query)
        if not m or int(m.group(1)) > 300:
            return err(400, "invalid_request", "timeout_s: 0 to 300")
        deadline = time.monotonic() + int(m.group(1))
        with self.lock:
            if rest not in self.spends:
                return err(404, "not_found", "no such spend")
            while self.spends[rest]["status"] in ("needs_approval", "held"):
                left = deadline - time.monotonic()
                if left <= 0:
                    return 200, dict(self.spends[rest], timed_out=True)
                self.lock.wait(left)
            return 200, dict(self.spends[rest])

    @staticmethod
    def check_create(headers, body):
        ctype = headers.get("Content-Type", "")
        if not ctype.startswith("application/json"):
            return err(415, "unsupported_media_type", "use JSON")
        try:
            b = json.loads(body)
        except ValueError:
            return err(400, "invalid_request", "body: invalid JSON")
        if not isinstance(b, dict):
            return err(400, "invalid_request", "body: not an object")
        for k in b:
            if k not in FIELDS:
                return err(400, "invalid_request", "%s: unknown field" % k)
        a = b.get("amount_cents")
        if not isinstance(a, int) or isinstance(a, bool) or \
                not 1 <= a <= 10**9:
            return err(400, "invalid_request", "amount_cents: must be an "
                       "integer from 1 to 1000000000")
        if not re.match(r"^[a-z]{3}$", str(b.get("currency"))) or \
                not isinstance(b.get("currency"), str):
            return err(400, "invalid_request", "currency: must be 3 "
                       "lowercase letters")
        m = b.get("merchant_name")
        if not isinstance(m, str) or not 1 <= len(m) <= 200:
            return err(400, "invalid_request", "merchant_name: missing")
        if not isinstance(b.get("reason"), str):
            return err(400, "invalid_request", "reason: missing")
        k = b.get("idempotency_key")
        if k is not None and (not isinstance(k, str) or
                              not re.match(r"^[!-~]{1,128}$", k)):
            return err(400, "invalid_request", "idempotency_key: bad")
        return None, b

    def r_create_spend(self, rest, query, headers, body):
        status, b = self.check_create(headers, body)
        if status is not None:
            return status, b
        key = b.get("idempotency_key") or "auto-" + secrets.token_hex(8)
        canon = (b["amount_cents"], b["currency"], b["merchant_name"],
                 b["reason"])
        with self.lock:
            n = self.attempts[key] = self.attempts.get(key, 0) + 1
            if self.paused:
                return err(503, "paused", "spending is paused by the "
                           "operator")
            if b["merchant_name"] == "Blocked":
                return err(403, "policy_denied", "merchant is on the "
                           "deny list")
            if b["merchant_name"] == "Flaky" and n == 1:
                return err(503, "broker_unavailable", "try again")
            seen = self.keys.get(key)
            if seen is not None:
                if seen[0] != canon:
                    return err(409, "idempotency_key_conflict", "this "
                               "key was used with a different body")
                s = self.spends.get(seen[1])
                if s is not None:
                    return 200, dict(s, replayed=True)
            s = self.submitting.get(key) or self.new_spend(b, key)
            self.keys[key] = (canon, s["id"])
            if b["merchant_name"] == "Slow" and n <= 2:
                self.submitting[key] = s
                return 202, dict(s, status="submitting", decided_at=None)
            self.submitting.pop(key, None)
            self.spends[s["id"]] = s
            return 200, dict(s)

    @staticmethod
    def new_spend(b, key):
        t = now_iso()
        s = {"id": new_id(), "status": "approved",
             "decision_reason": "within budget", "budget_period": "monthly",
             "remaining_budget_cents": 4998800,
             "remaining_monthly_budget_cents": 4998800,
             "amount_cents": b["amount_cents"], "currency": b["currency"],
             "merchant_name": b["merchant_name"], "reason": b["reason"],
             "team_id": "team_default", "agent_account_id": "agent_default",
             "decided_at": t, "created_at": t, "updated_at": t,
             "idempotency_key": key}
        if b["merchant_name"] == "Casino":
            s.update(status="declined", decision_reason="merchant is "
                     "blocked")
        elif b["amount_cents"] >= 50000:
            s.update(status="needs_approval", decision_reason="above the "
                     "approval threshold", decided_at=None,
                     approval_url="https://dino.example/approve/" + s["id"])
        return s


class RealFrontend:
    """The real dino-frontend in front of tests/lib/fakebroker.py, for
    checking the clients and openapi.yaml against the real HTTP intake.
    Raises RuntimeError when it cannot start (the caller skips)."""

    def __init__(self, build):
        from fakebroker import FakeBroker
        self.dir = tempfile.mkdtemp(prefix="dino-realfe.")
        os.chmod(self.dir, 0o755)
        self.sock = os.path.join(self.dir, "agent.sock")
        ipc = os.path.join(self.dir, "ipc.sock")
        self.broker = FakeBroker(ipc)
        os.chmod(ipc, 0o777)
        args = [os.path.join(build, "dino-frontend"), "--listen",
                "unix:" + self.sock, "--broker", ipc, "--socket-mode",
                "0666"]
        if os.geteuid() == 0:
            args += ["--user", "dino-frontend"]
        self.log = open(os.path.join(self.dir, "frontend.log"), "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.close()
                raise RuntimeError("dino-frontend exited")
            if self._healthy():
                return
            time.sleep(0.05)
        self.close()
        raise RuntimeError("dino-frontend did not become healthy")

    def _healthy(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect(self.sock)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
                      b"Connection: close\r\n\r\n")
            data = s.recv(4096)
            return b"connected" in data and b"disconnected" not in data
        except OSError:
            return False
        finally:
            s.close()

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.broker.close()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
