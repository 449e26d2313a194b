"""A fake dino-broker for testing dino-frontend alone (standard library only).

It listens on a SOCK_SEQPACKET UNIX socket and speaks the binary protocol of
common/ipc.h and common/proto.h: a header of four host-order u32 (type, len,
reqid, version), then the typed fields of each message (str = u16 length,
bytes, NUL).  It answers HELLO with CONFIG and each tool request with a
canned answer, and records every message it received.  Any message that
does not decode exactly (wrong length, bad version, trailing bytes, a field
out of range) is recorded in `invalid`: the tests assert that list stays
empty, i.e. the frontend only ever sends valid messages.

Canned answers, chosen by the request:
  create_spend amount 777  -> needs_approval with an approval_url
  create_spend amount 888  -> submitting (HTTP 202 at the frontend)
  create_spend amount 999  -> MSG_ERROR 409 idempotency_key_conflict
  create_spend amount 555  -> no answer (held until release_held())
  create_spend otherwise   -> approved
  get_spend, wait_spend KNOWN_ID -> that (approved) spend;
                           any other id -> MSG_ERROR 404
  get_balance              -> a balance with some fields present
"""
import os
import socket
import struct
import threading
import time

MSG_HELLO, MSG_CONFIG, MSG_CREATE_SPEND, MSG_SPEND = 2, 3, 4, 5
MSG_GET_BALANCE, MSG_BALANCE, MSG_GET_SPEND, MSG_ERROR = 6, 7, 8, 9
MSG_WAIT_SPEND, MSG_SPEND_UPDATE = 10, 11
IPC_VERSION = 1
IPC_HDR_LEN = 16
IPC_MSG_MAX = 8192

KNOWN_ID = "req_01hzz0000000000000000000ab"
assert len(KNOWN_ID) == 30


class DecodeError(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.data = data
        self.off = 0

    def take(self, n, what):
        if self.off + n > len(self.data):
            raise DecodeError("%s truncated" % what)
        b = self.data[self.off:self.off + n]
        self.off += n
        return b

    def u8(self, what):
        return self.take(1, what)[0]

    def u32(self, what):
        return struct.unpack("=I", self.take(4, what))[0]

    def i64(self, what):
        return struct.unpack("=q", self.take(8, what))[0]

    def str(self, maxlen, what):
        n = struct.unpack("=H", self.take(2, what))[0]
        if n > maxlen:
            raise DecodeError("%s too long" % what)
        b = self.take(n + 1, what)
        if b[-1] != 0 or 0 in b[:-1]:
            raise DecodeError("%s bad NUL" % what)
        try:
            return b[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError("%s not UTF-8" % what)

    def end(self):
        if self.off != len(self.data):
            raise DecodeError("trailing bytes")


class Writer:
    def __init__(self, mtype, reqid):
        self.mtype, self.reqid = mtype, reqid
        self.body = b""

    def u8(self, v):
        self.body += struct.pack("=B", v)
        return self

    def u32(self, v):
        self.body += struct.pack("=I", v)
        return self

    def i64(self, v):
        self.body += struct.pack("=q", v)
        return self

    def str(self, s):
        b = s.encode("utf-8")
        self.body += struct.pack("=H", len(b)) + b + b"\0"
        return self

    def packet(self):
        n = IPC_HDR_LEN + len(self.body)
        return struct.pack("=IIII", self.mtype, n, self.reqid,
                           IPC_VERSION) + self.body


def printable(s):
    return all(0x21 <= ord(c) <= 0x7e for c in s)


def text_ok(s):
    return all(ord(c) >= 0x20 and ord(c) != 0x7f and
               not (0x80 <= ord(c) < 0xa0) for c in s)


def decode_caller(r):
    c = {"uid": r.u32("uid"), "gid": r.u32("gid"), "pid": r.u32("pid"),
         "agent": r.str(64, "agent")}
    if c["agent"] and not printable(c["agent"]):
        raise DecodeError("agent not printable")
    if c["uid"] == 0xffffffff or c["gid"] == 0xffffffff:
        raise DecodeError("caller id -1")
    return c


def check_id(s):
    ok = "0123456789abcdefghjkmnpqrstvwxyz"
    return (len(s) == 30 and s.startswith("req_") and
            all(c in ok for c in s[4:]))


def decode_request(data):
    """Returns (type, reqid, fields) or raises DecodeError."""
    if len(data) < IPC_HDR_LEN:
        raise DecodeError("short header")
    mtype, n, reqid, version = struct.unpack("=IIII", data[:IPC_HDR_LEN])
    if n != len(data) or n > IPC_MSG_MAX:
        raise DecodeError("length %d for a packet of %d" % (n, len(data)))
    if version != IPC_VERSION:
        raise DecodeError("version %d" % version)
    r = Reader(data[IPC_HDR_LEN:])
    f = {}
    if mtype == MSG_HELLO:
        f["pid"] = r.u32("pid")
        if f["pid"] == 0:
            raise DecodeError("hello pid 0")
    elif mtype == MSG_CREATE_SPEND:
        f["caller"] = decode_caller(r)
        f["amount_cents"] = r.i64("amount_cents")
        f["currency"] = r.str(3, "currency")
        f["merchant_name"] = r.str(200, "merchant_name")
        f["reason"] = r.str(1000, "reason")
        f["idempotency_key"] = r.str(128, "idempotency_key")
        if not 1 <= f["amount_cents"] <= 10**9:
            raise DecodeError("amount out of range")
        if len(f["currency"]) != 3 or not all(
                "a" <= c <= "z" for c in f["currency"]):
            raise DecodeError("currency")
        if not f["merchant_name"] or not text_ok(f["merchant_name"]):
            raise DecodeError("merchant_name")
        if not text_ok(f["reason"]):
            raise DecodeError("reason")
        if f["idempotency_key"] and not printable(f["idempotency_key"]):
            raise DecodeError("idempotency_key")
    elif mtype == MSG_GET_BALANCE:
        f["caller"] = decode_caller(r)
    elif mtype in (MSG_GET_SPEND, MSG_WAIT_SPEND):
        f["caller"] = decode_caller(r)
        f["id"] = r.str(40, "id")
        if not check_id(f["id"]):
            raise DecodeError("id")
        if mtype == MSG_WAIT_SPEND:
            f["timeout_s"] = r.u32("timeout_s")
    else:
        raise DecodeError("unexpected type %d" % mtype)
    r.end()
    if mtype != MSG_HELLO and reqid == 0:
        raise DecodeError("request with reqid 0")
    return mtype, reqid, f


def config_packet(max_conns_per_uid=64, idle_timeout_s=30, max_wait_s=300,
                  reqid=0):
    return (Writer(MSG_CONFIG, reqid).u32(max_conns_per_uid)
            .u32(idle_timeout_s).u32(max_wait_s).packet())


def spend_packet(reqid, status="approved", amount=1200, currency="usd",
                 merchant="AWS", reason="", key="", approval_url="",
                 spend_id=KNOWN_ID, mtype=MSG_SPEND, replayed=0):
    t = "2026-05-07T12:34:56.000Z"
    decided = t if status in ("approved", "declined", "cancelled") else ""
    w = Writer(mtype, reqid).u8(replayed).u8(0)
    w.str(spend_id).str(status)
    w.str("within budget" if status == "approved" else "")
    w.str("monthly").u8(1).i64(98800).i64(1000000000000000)
    w.i64(amount).str(currency).str(merchant).str(reason)
    w.str(approval_url).str("team_1").str("acct_1")
    w.str(decided).str(t).str(t).str(key)
    return w.packet()


def balance_packet(reqid):
    w = Writer(MSG_BALANCE, reqid).str("usd").str("monthly")
    # wallet_available, budget, spent, remaining_budget, remaining_monthly
    for has, v in ((1, 500000), (1, 100000), (0, 0), (1, 98800), (0, 0)):
        w.u8(has).i64(v)
    return w.packet()


def error_packet(reqid, status, code, message):
    return (Writer(MSG_ERROR, reqid).u32(status).str(code).str(message)
            .packet())


class FakeBroker:
    def __init__(self, path, send_config=True, **config):
        self.path = path
        self.send_config = send_config
        self.config = config
        self.received = []      # (type, reqid, fields)
        self.invalid = []       # (reason, raw bytes)
        self.held = []          # reqids left unanswered
        self.conn = None
        self.connections = 0
        self.lock = threading.Lock()
        self.stop = False
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if os.path.exists(path):
            os.unlink(path)
        self.srv.bind(path)
        self.srv.listen(4)
        self.srv.settimeout(0.2)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.conn = conn
                self.connections += 1
            self._serve(conn)

    def _serve(self, conn):
        conn.settimeout(0.2)
        while not self.stop:
            try:
                data = conn.recv(IPC_MSG_MAX + 1)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                mtype, reqid, f = decode_request(data)
            except DecodeError as e:
                with self.lock:
                    self.invalid.append((str(e), data))
                continue
            with self.lock:
                self.received.append((mtype, reqid, f))
            self._answer(conn, mtype, reqid, f)
        with self.lock:
            if self.conn is conn:
                self.conn = None
        try:
            conn.close()
        except OSError:
            pass

    def _answer(self, conn, mtype, reqid, f):
        out = None
        if mtype == MSG_HELLO:
            if self.send_config:
                out = config_packet(**self.config)
        elif mtype == MSG_CREATE_SPEND:
            a = f["amount_cents"]
            kw = dict(amount=a, currency=f["currency"],
                      merchant=f["merchant_name"], reason=f["reason"],
                      key=f["idempotency_key"])
            if a == 777:
                out = spend_packet(reqid, "needs_approval",
                                   approval_url="https://dino.example/a/1",
                                   **kw)
            elif a == 888:
                out = spend_packet(reqid, "submitting", **kw)
            elif a == 999:
                out = error_packet(reqid, 409, "idempotency_key_conflict",
                                   "key reused with a different body")
            elif a == 555:
                with self.lock:
                    self.held.append(reqid)
            else:
                out = spend_packet(reqid, "approved", **kw)
        elif mtype == MSG_GET_BALANCE:
            out = balance_packet(reqid)
        elif mtype in (MSG_GET_SPEND, MSG_WAIT_SPEND):
            # KNOWN_ID is approved (terminal): a wait returns at once.
            if f["id"] == KNOWN_ID:
                out = spend_packet(reqid)
            else:
                out = error_packet(reqid, 404, "not_found", "no such spend")
        if out is not None:
            self._send(conn, out)

    @staticmethod
    def _send(conn, pkt, timeout=10.0):
        """The socket has a short timeout for recv; a send retries."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                conn.send(pkt)
                return True
            except socket.timeout:
                continue
            except OSError:
                return False
        return False

    def send_raw(self, data):
        with self.lock:
            conn = self.conn
        if conn is not None:
            self._send(conn, data)

    def release_held(self):
        """Answers every held create_spend with an approved spend."""
        with self.lock:
            held, self.held = self.held, []
        for reqid in held:
            self.send_raw(spend_packet(reqid, "approved", amount=555))
        return len(held)

    def send_config_now(self, **config):
        self.send_raw(config_packet(**config))

    def hangup(self):
        with self.lock:
            conn, self.conn = self.conn, None
        if conn is not None:
            conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def wait_for(self, mtype, count=1, timeout=5.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                n = sum(1 for m in self.received if m[0] == mtype)
            if n >= count:
                return True
            time.sleep(0.02)
        return False

    def of_type(self, mtype):
        with self.lock:
            return [m for m in self.received if m[0] == mtype]

    def close(self):
        self.stop = True
        self.hangup()
        try:
            self.srv.close()
        except OSError:
            pass
        self.thread.join(2)
        try:
            os.unlink(self.path)
        except OSError:
            pass


if __name__ == "__main__":
    import sys
    fb = FakeBroker(sys.argv[1] if len(sys.argv) > 1 else "fake-ipc.sock")
    print("fake broker on", fb.path, flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        fb.close()
