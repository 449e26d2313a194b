"""Reusable helpers for the integration tests (standard library only).

- Sandbox: runs build/dino-sandbox with a temporary seed on 127.0.0.1 port 0
  (or a UNIX socket), parses its "listening" line, and speaks HTTP to it.
- WebhookReceiver: a small HTTP server on 127.0.0.1 port 0 (or a UNIX
  socket) in a thread that records every delivery and answers with a
  status chosen per request.
- verify_dino_signature / legacy_signature: an independent implementation
  of the Dino webhook signature scheme (dino-api.md Part A) with hmac and
  hashlib, to check the C signer from outside.
- raw_exchange: sends raw bytes and reads until close, for hostile input.

Every wait has a deadline; nothing here sleeps without bound.
"""
import hashlib
import hmac
import http.client
import http.server
import json
import os
import select
import signal
import socket
import socketserver
import subprocess
import tempfile
import threading
import time

BUILD = os.environ.get("DINO_BUILD", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build"))
TOP = os.environ.get("DINO_TOP", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))

KEY = "din_test_alpha_00000000000000000000"
KEY_B = "din_test_beta_000000000000000000000"
KEY_LIVE = "din_live_gamma_00000000000000000000"
SECRET = "whsec_test_sandbox_secret_0001"


def test_seed(webhooks=None, **top):
    """A seed with three accounts that tests can reason about.

    alpha: wallet 100000, budget 50000 monthly, max 20000, threshold 10000,
           block "BadMerchant"; currencies usd, eur.
    beta:  wallet 1000, budget 1000000, allow list ["AWS"].
    gamma: a din_live_ key, for the faucet's refusal.
    """
    seed = {
        "accounts": [
            {"id": "alpha", "key": KEY, "team_id": "team_t",
             "wallet_cents": 100000, "budget_cents": 50000,
             "budget_period": "monthly", "max_transaction_cents": 20000,
             "approval_threshold_cents": 10000,
             "currencies": ["usd", "eur"],
             "merchants_block": ["BadMerchant"]},
            {"id": "beta", "key": KEY_B, "wallet_cents": 1000,
             "budget_cents": 1000000, "merchants_allow": ["AWS"]},
            {"id": "gamma", "key": KEY_LIVE, "wallet_cents": 0,
             "budget_cents": 0},
        ],
        "webhooks": webhooks or [],
        "approval_expiry_s": 3600,
        "webhook_retry_delays_s": [0.2, 0.4, 0.8],
    }
    seed.update(top)
    return seed


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Sandbox:
    """A running dino-sandbox; use as a context manager.

    seed: a dict written to a temporary file, or None for the default
    seed.  .url is "http://127.0.0.1:PORT" or "unix:PATH".
    """

    def __init__(self, seed=None, admin_token=None, listen="127.0.0.1:0",
                 args=(), binary=None, start_timeout=10):
        self.tmp = tempfile.TemporaryDirectory(prefix="dino-sbx-")
        self.binary = binary or os.path.join(BUILD, "dino-sandbox")
        self.admin_token = admin_token
        cmd = [self.binary, "--listen", listen]
        if seed is not None:
            path = os.path.join(self.tmp.name, "seed.json")
            with open(path, "w") as f:
                json.dump(seed, f)
            cmd += ["--seed", path]
        env = dict(os.environ)
        env.pop("DINO_SANDBOX_ADMIN_TOKEN", None)
        if admin_token is not None:
            # The token goes through the environment, not argv.
            env["DINO_SANDBOX_ADMIN_TOKEN"] = admin_token
        cmd += list(args)
        self.errpath = os.path.join(self.tmp.name, "stderr")
        self.errf = open(self.errpath, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.errf, env=env)
        self.started = time.monotonic()
        line = self._readline(start_timeout)
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError("sandbox did not start: %r %s" %
                               (line, self.stderr()))
        self.ready_after = time.monotonic() - self.started
        self.addr = line.split(" ", 1)[1].strip()
        if self.addr.startswith("unix:"):
            self.url = self.addr
            self.unix_path = self.addr[5:]
            self.host, self.port = None, None
        else:
            self.url = "http://" + self.addr
            self.unix_path = None
            self.host, port = self.addr.rsplit(":", 1)
            self.port = int(port)

    def _readline(self, timeout):
        deadline = time.monotonic() + timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while not buf.endswith(b"\n") and time.monotonic() < deadline:
            r, _, _ = select.select([fd], [], [], 0.1)
            if r:
                chunk = os.read(fd, 1)
                if not chunk:
                    break
                buf += chunk
        return buf.decode("utf-8", "replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, timeout=10):
        """SIGTERM, then wait; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc.stdout.close()
        self.errf.close()
        rc = self.proc.returncode
        self.tmp_err = self.stderr()
        self.tmp.cleanup()
        return rc

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return getattr(self, "tmp_err", "")

    def connection(self, timeout=10):
        if self.unix_path:
            return UnixHTTPConnection(self.unix_path, timeout)
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, key=None, headers=None,
                timeout=10):
        """Returns (status, headers with lowercase names, JSON or bytes).

        body may be a dict (sent as JSON), str or bytes; key becomes the
        Bearer token.
        """
        h = {}
        if key is not None:
            h["Authorization"] = "Bearer " + key
        if body is not None:
            h["Content-Type"] = "application/json"
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
            elif isinstance(body, str):
                body = body.encode()
        h.update(headers or {})
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            resp = conn.getresponse()
            data = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            conn.close()
        try:
            return status, hdrs, json.loads(data)
        except ValueError:
            return status, hdrs, data

    def admin(self, method, path, body=None, token=None):
        return self.request(method, path, body=body,
                            key=token if token is not None
                            else self.admin_token)

    def create(self, amount, merchant="AWS", currency="usd", reason="test",
               key=KEY, idem=None, extra=None, headers=None):
        body = {"amount_cents": amount, "currency": currency,
                "merchant_name": merchant, "reason": reason}
        body.update(extra or {})
        h = dict(headers or {})
        if idem is not None:
            h["Idempotency-Key"] = idem
        return self.request("POST", "/v1/spend", body, key=key, headers=h)

    def ledger(self):
        st, _, body = self.admin("GET", "/_sandbox/ledger")
        assert st == 200, (st, body)
        return body

    def faults(self, **f):
        st, _, body = self.admin("POST", "/_sandbox/faults", f)
        assert st == 200, (st, body)
        return body

    def ctl(self, *args, token=None, timeout=20, stdin=None):
        """Runs `dino-sandbox COMMAND ARGS --url URL`; returns
        (exit status, stdout, stderr)."""
        env = dict(os.environ)
        env.pop("DINO_SANDBOX_ADMIN_TOKEN", None)
        tok = token if token is not None else self.admin_token
        if tok is not None:
            env["DINO_SANDBOX_ADMIN_TOKEN"] = tok
        p = subprocess.run([self.binary] + list(args) + ["--url", self.url],
                           input=stdin, capture_output=True, timeout=timeout,
                           env=env)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def raw(self, data, timeout=5, shutdown_write=False):
        return raw_exchange(self, data, timeout, shutdown_write)


def raw_exchange(target, data, timeout=5, shutdown_write=False):
    """Sends raw bytes to target (a Sandbox, or (host, port)) and reads
    until the peer closes or timeout passes; returns the bytes read."""
    if isinstance(target, Sandbox) and target.unix_path:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target.unix_path)
    else:
        addr = (target.host, target.port) if isinstance(target, Sandbox) \
            else target
        s = socket.create_connection(addr, timeout=timeout)
    s.settimeout(timeout)
    out = b""
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The peer refused early (e.g. an oversized body); read what
            # it said before closing, if anything.
            pass
        if shutdown_write:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except (ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


def wait_until(pred, timeout=10.0, interval=0.05):
    """Polls pred() until it is true or timeout passes; returns its value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


# The webhook signature scheme, implemented independently of the C code.

def legacy_signature(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_dino_signature(secret, headers, body, tolerance=300, now=None):
    """Checks Dino-Signature ("t=<ts>,v1=<hex>[,v1=...]") over "<t>.<body>"
    and x-dino-signature-sha256 over the body; headers use lowercase names.
    Returns (ok, why)."""
    sig = headers.get("dino-signature")
    legacy = headers.get("x-dino-signature-sha256")
    if sig is None or legacy is None:
        return False, "missing signature header"
    t, v1s = None, []
    for part in sig.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t":
            t = v
        elif k == "v1":
            v1s.append(v)
    if t is None or not t.isdigit() or not v1s:
        return False, "malformed Dino-Signature"
    now = time.time() if now is None else now
    if abs(now - int(t)) > tolerance:
        return False, "timestamp outside tolerance"
    want = hmac.new(secret.encode(), t.encode() + b"." + body,
                    hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(want, v) for v in v1s):
        return False, "v1 mismatch"
    if not hmac.compare_digest(legacy_signature(secret, body), legacy):
        return False, "legacy mismatch"
    return True, "ok"


class _UnixHTTPServer(socketserver.ThreadingMixIn,
                      socketserver.UnixStreamServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class _TCPHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A sender that resets the connection is not a test failure here;
        # the tests judge what was recorded.
        pass


class WebhookReceiver:
    """Records webhook deliveries.  respond(delivery_index, headers, body)
    returns the HTTP status to answer (default 200)."""

    def __init__(self, respond=None, unix_path=None):
        self.deliveries = []
        self.lock = threading.Lock()
        self.respond = respond or (lambda i, h, b: 200)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def address_string(self):
                return "webhook-client"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                with outer.lock:
                    i = len(outer.deliveries)
                    outer.deliveries.append({"headers": hdrs, "body": body,
                                             "time": time.monotonic()})
                try:
                    code = outer.respond(i, hdrs, body)
                except Exception:
                    code = 500
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        if unix_path:
            self.server = _UnixHTTPServer(unix_path, Handler)
            self.url = "http://localhost/hook"
            self.unix_path = unix_path
        else:
            self.server = _TCPHTTPServer(("127.0.0.1", 0), Handler)
            self.url = "http://127.0.0.1:%d/hook" % \
                self.server.server_address[1]
            self.unix_path = None
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def endpoint(self, secret=SECRET, events=None):
        ep = {"url": self.url, "secret": secret}
        if events is not None:
            ep["events"] = events
        if self.unix_path:
            ep["unix_socket"] = self.unix_path
        return ep

    def snapshot(self):
        with self.lock:
            return list(self.deliveries)

    def events(self):
        """The deliveries as (headers, parsed body)."""
        return [(d["headers"], json.loads(d["body"]))
                for d in self.snapshot()]

    def wait_for(self, n, timeout=10.0):
        return wait_until(lambda: len(self.snapshot()) >= n, timeout)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
