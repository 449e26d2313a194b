"""The whole dino-broker stack for integration tests: dino-sandbox, dino-broker
and dino-frontend as real processes (as root: each daemon under its own system
user), plus an HTTP client for the agent socket that can speak as any uid.

Standard library only.  Every wait has a deadline; every server listens on
127.0.0.1 or a UNIX socket in a private temporary directory.
"""
import http.client
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

TOP = os.environ.get("DINO_TOP", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
BUILD = os.environ.get("DINO_BUILD", os.path.join(TOP, "build"))
IS_ROOT = os.geteuid() == 0
BROKER_USER = "dino-broker"
FRONTEND_USER = "dino-frontend"
OTHER_UID = 65534          # nobody: a uid the broker does not know


def ensure_user(name):
    """Creates a system user (as root) if missing; returns its uid."""
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home",
                        "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", name], check=True)
        return pwd.getpwnam(name).pw_uid


def canary(prefix):
    return prefix + "CANARY" + secrets.token_hex(12)


def default_seed(key, secret=None, hook_url=None, hook_socket=None, **acct):
    account = {
        "id": "agent_default", "key": key, "team_id": "team_default",
        "wallet_cents": 10000000, "budget_cents": 5000000,
        "budget_period": "monthly", "max_transaction_cents": 1000000,
        "approval_threshold_cents": 50000, "currencies": ["usd"],
        "merchants_allow": [], "merchants_block": ["Casino"],
        "paused": False,
    }
    account.update(acct)
    seed = {"accounts": [account], "webhooks": [],
            "approval_expiry_s": 3600,
            "webhook_retry_delays_s": [1, 2, 5]}
    if secret:
        hook = {"url": hook_url or "http://127.0.0.1/webhooks/dino",
                "secret": secret, "events": []}
        if hook_socket:
            hook["unix_socket"] = hook_socket
        seed["webhooks"].append(hook)
    return seed


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def http_unix(path, method, url, body=None, headers=None, timeout=30):
    """One request over a UNIX socket; returns (status, headers, parsed)."""
    conn = UnixHTTPConnection(path, timeout=timeout)
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn.request(method, url, body=data, headers=hdrs)
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return r.status, dict(r.getheaders()), parsed


def raw_unix(path, data, timeout=10):
    """Sends raw bytes (errors from an early close ignored) and returns
    whatever the server answered before closing: for requests the server
    refuses before reading them whole."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    try:
        s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    out = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            out += b
            if b"\r\n\r\n" in out and b"Content-Length" not in out:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def raw_status(resp):
    """The status code of a raw HTTP response, or 0."""
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def as_uid(uid, fn, timeout=30):
    """Runs fn() in a child process under uid (root only) and returns its
    JSON-serialisable result."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            out = json.dumps({"ok": fn()})
        except BaseException as e:          # report, never hang the parent
            out = json.dumps({"err": repr(e)})
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    chunks = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    res = json.loads(b"".join(chunks).decode() or '{"err":"no output"}')
    if "err" in res:
        raise RuntimeError("as_uid(%d): %s" % (uid, res["err"]))
    return res["ok"]


class Stack:
    """Starts the three processes; use as a context manager."""

    def __init__(self, seed=None, principal_extra="", config_extra="",
                 blocks_extra="", key=None, webhook_secret=None,
                 sandbox_args=(), webhooks=False, poll=None,
                 webhook_extra="", journal_dir=None, broker_args=(),
                 log_level="debug", daily_cap=5000000, spm=1000):
        """webhooks: the broker receives the sandbox's signed webhooks on
        a UNIX socket (webhook_sock), with webhook_secret (a fresh one by
        default); poll: (poll_min_s, poll_max_s) for fallback polling."""
        self.key = key or canary("din_test_")
        self.webhooks = webhooks
        if webhooks and not webhook_secret:
            webhook_secret = canary("whsec_")
        self.webhook_secret = webhook_secret
        self.poll = poll
        self.webhook_extra = webhook_extra
        # webhooks="tcp": the receiver on a loopback port instead.
        self.webhook_port = free_port() if webhooks == "tcp" else None
        # The broker's journal: a private directory unless one is given
        # (a small tmpfs, for disk-full tests); broker_args are added to
        # its command line at every start (e.g. --recover).
        self.journal_dir = journal_dir
        self.broker_args = list(broker_args)
        self.log_level = log_level
        self.daily_cap, self.spm = daily_cap, spm
        self.seed = seed or default_seed(self.key)
        self.principal_extra = principal_extra
        self.config_extra = config_extra
        self.blocks_extra = blocks_extra
        self.sandbox_args = list(sandbox_args)
        self.procs = {}
        self.dir = None

    # -- lifecycle --------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="dino-stack.")
        os.chmod(self.dir, 0o755)
        self.agent_sock = os.path.join(self.dir, "agent.sock")
        self.ipc_sock = os.path.join(self.dir, "ipc.sock")
        self.admin_sock = os.path.join(self.dir, "admin.sock")
        self.webhook_sock = os.path.join(self.dir, "webhook.sock")
        if self.webhooks:
            hook = {"url": "http://localhost/webhooks/dino",
                    "unix_socket": self.webhook_sock,
                    "secret": self.webhook_secret, "events": []}
            if self.webhook_port:
                hook["url"] = "http://127.0.0.1:%d/webhooks/dino" % \
                    self.webhook_port
                del hook["unix_socket"]
            self.seed.setdefault("webhooks", []).append(hook)
        self.start_sandbox()
        self.make_journal_dir()
        self.write_config()
        self.start_broker()
        self.start_frontend()

    def start_sandbox(self):
        seed_path = os.path.join(self.dir, "seed.json")
        with open(seed_path, "w") as f:
            json.dump(self.seed, f)
        err = open(os.path.join(self.dir, "sandbox.log"), "wb")
        p = subprocess.Popen([os.path.join(BUILD, "dino-sandbox"),
                              "--listen", "127.0.0.1:0", "--seed", seed_path]
                             + self.sandbox_args,
                             stdout=subprocess.PIPE, stderr=err)
        self.procs["sandbox"] = p
        line = p.stdout.readline().decode().strip()
        if not line.startswith("listening "):
            raise RuntimeError("sandbox did not start: %r" % line)
        self.sandbox_url = "http://" + line.split(" ", 1)[1]

    def make_journal_dir(self):
        if self.journal_dir is None:
            self.journal_dir = os.path.join(self.dir, "journal")
        if not os.path.isdir(self.journal_dir):
            os.mkdir(self.journal_dir, 0o700)
        if IS_ROOT:
            os.chown(self.journal_dir, ensure_user(BROKER_USER), -1)

    def write_config(self, extra_principals=""):
        keydir = os.path.join(self.dir, "keys")
        os.mkdir(keydir, 0o700)
        keyfile = os.path.join(keydir, "default.key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (self.key + "\n").encode())
        os.close(fd)
        hook_lines = ""
        if self.webhooks:
            secfile = os.path.join(keydir, "webhook.secret")
            fd = os.open(secfile, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, (self.webhook_secret + "\n").encode())
            os.close(fd)
            if IS_ROOT:
                os.chown(secfile, ensure_user(BROKER_USER), -1)
            where = ("127.0.0.1:%d" % self.webhook_port
                     if self.webhook_port else "unix:" + self.webhook_sock)
            hook_lines = ("webhook_listen %s\nwebhook_secret_file %s\n"
                          % (where, secfile)) + self.webhook_extra
        if self.poll:
            hook_lines += "poll_min_s %d\npoll_max_s %d\n" % self.poll
        user_lines = ""
        if IS_ROOT:
            buid = ensure_user(BROKER_USER)
            ensure_user(FRONTEND_USER)
            os.chown(keydir, buid, -1)
            os.chown(keyfile, buid, -1)
            user_lines = "user %s\nfrontend_user %s\n" % (
                BROKER_USER, FRONTEND_USER)
        self.config = os.path.join(self.dir, "dino-broker.conf")
        with open(self.config, "w") as f:
            f.write("""# generated by tests/lib/stack.py
instance_id test-instance
dino_url %s
dino_spend_path spend
allow_http_loopback yes
connect_timeout_ms 2000
total_timeout_ms 5000
ipc_socket %s
admin_socket %s
journal_dir %s
%slog_level %s
%s
%s
account default {
    key_file %s
}
principal uid %d {
    account default
    max_amount_cents 500000
    daily_cap_cents %d
    spends_per_minute %d
    currencies usd
    merchants_deny Blocked
%s
}
%s
""" % (self.sandbox_url, self.ipc_sock, self.admin_sock,
                self.journal_dir, user_lines,
                self.log_level, self.config_extra,
                hook_lines, keyfile, os.geteuid(), self.daily_cap, self.spm,
                self.principal_extra,
                self.blocks_extra))

    def start_broker(self):
        err = open(os.path.join(self.dir, "broker.log"), "ab")
        # A broker killed with SIGKILL leaves its socket: the wait below
        # must see the new one.
        if os.path.exists(self.ipc_sock):
            os.unlink(self.ipc_sock)
        self.procs["broker"] = subprocess.Popen(
            [os.path.join(BUILD, "dino-broker"), "-f", self.config]
            + self.broker_args,
            stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        wait_for(lambda: os.path.exists(self.ipc_sock), "broker IPC socket",
                 proc=self.procs["broker"])

    def start_frontend(self):
        # The frontend runs with RLIMIT_FSIZE 0: it can write to a pipe but
        # never to a regular file, so its log goes through a pipe.
        err = log_pipe(os.path.join(self.dir, "frontend.log"))
        args = [os.path.join(BUILD, "dino-frontend"),
                "--listen", "unix:" + self.agent_sock,
                "--broker", self.ipc_sock, "--socket-mode", "0666"]
        if IS_ROOT:
            args += ["--user", FRONTEND_USER]
        self.procs["frontend"] = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        os.close(err)

        def ready():
            try:
                st, _, j = self.agent("GET", "/healthz", timeout=2)
                return st == 200 and j.get("broker") == "connected"
            except OSError:
                return False
        wait_for(ready, "frontend healthz", proc=self.procs["frontend"])

    def restart_frontend(self):
        self.kill("frontend")
        self.start_frontend()

    def restart_broker(self, between=None, sig=signal.SIGTERM):
        """Stops the frontend and the broker, runs between(), starts both
        again (the frontend exits when its broker goes).  With a sig other
        than SIGTERM (SIGKILL: a crash) the broker goes first."""
        if sig != signal.SIGTERM:
            self.kill("broker", sig)
        self.kill("frontend")
        self.kill("broker")
        # A broker that dropped root cannot remove its socket here.
        if os.path.exists(self.ipc_sock):
            os.unlink(self.ipc_sock)
        if between:
            between()
        self.start_broker()
        self.start_frontend()

    def webhook(self, body, headers, timeout=10):
        """POSTs raw bytes to the broker's webhook receiver; returns the
        status (0 if the connection was dropped without an answer)."""
        conn = UnixHTTPConnection(self.webhook_sock, timeout=timeout)
        try:
            conn.request("POST", headers.pop("_path", "/webhooks/dino"),
                         body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            return r.status
        except (ConnectionError, http.client.HTTPException):
            return 0
        finally:
            conn.close()

    def kill(self, name, sig=signal.SIGTERM):
        p = self.procs.pop(name, None)
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return p.returncode

    def stop(self):
        for name in ("frontend", "broker", "sandbox"):
            self.kill(name)
        if self.dir and not os.environ.get("DINO_KEEP_TMP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def pid(self, name):
        return self.procs[name].pid

    def log(self, name):
        with open(os.path.join(self.dir, name + ".log"), "rb") as f:
            return f.read()

    # -- clients ----------------------------------------------------------
    def agent(self, method, url, body=None, headers=None, timeout=30):
        return http_unix(self.agent_sock, method, url, body, headers, timeout)

    def agent_as(self, uid, method, url, body=None, headers=None):
        path = self.agent_sock

        def call():
            st, h, j = http_unix(path, method, url, body, headers)
            return [st, j if not isinstance(j, bytes) else j.decode("latin1")]
        return as_uid(uid, call)

    def create(self, amount=1200, merchant="AWS", reason="test", key=None,
               currency="usd"):
        body = {"amount_cents": amount, "currency": currency,
                "merchant_name": merchant, "reason": reason}
        if key is not None:
            body["idempotency_key"] = key
        return self.agent("POST", "/tools/create_spend", body)

    def ctl(self, *args, uid=None, groups=(), timeout=60):
        """Runs dinoctl on this stack's admin socket (as uid, with gid uid
        and the supplementary groups given, when uid is given: root only);
        returns (exit status, stdout, stderr)."""
        argv = [os.path.join(BUILD, "dinoctl"), "--socket",
                self.admin_sock] + list(args)
        kw = {}
        if uid is not None:
            def drop():
                os.setgroups(list(groups))
                os.setgid(uid)
                os.setuid(uid)
            kw["preexec_fn"] = drop
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, **kw)
        return p.returncode, p.stdout, p.stderr

    def ctl_json(self, *args, **kw):
        """dinoctl --json ARGS: (exit status, parsed stdout or None)."""
        rc, out, _ = self.ctl("--json", *args, **kw)
        try:
            return rc, json.loads(out) if out.strip() else None
        except ValueError:
            return rc, None

    def admin(self, method, url, body=None, timeout=30):
        """A raw request on the admin socket."""
        return http_unix(self.admin_sock, method, url, body, None, timeout)

    def sandbox(self, method, path, body=None):
        host = self.sandbox_url[len("http://"):]
        conn = http.client.HTTPConnection(host, timeout=30)
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        raw = r.read()
        conn.close()
        return r.status, (json.loads(raw) if raw else None)

    def ledger(self):
        st, j = self.sandbox("GET", "/_sandbox/ledger")
        if st != 200:
            raise RuntimeError("ledger: %d %r" % (st, j))
        return j

    def faults(self, **kw):
        st, j = self.sandbox("POST", "/_sandbox/faults", kw)
        if st != 200:
            raise RuntimeError("faults: %d %r" % (st, j))
        return j


def log_pipe(path):
    """A pipe whose read end cat(1) appends to path; returns the write end
    for a child's stdout and stderr.  cat exits when the last writer has
    closed it; it costs the benchmarks less than a Python copier."""
    r, w = os.pipe()
    out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    subprocess.Popen(["cat"], stdin=r, stdout=out, close_fds=True)
    os.close(r)
    os.close(out)
    return w


def free_port():
    """A loopback port free right now (a small race, for tests only)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, timeout=15.0, proc=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("%s: process exited with %d" %
                               (what, proc.returncode))
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out
