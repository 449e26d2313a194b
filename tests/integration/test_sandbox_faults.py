#!/usr/bin/python3
"""dino-sandbox faults and hostile input: injected 500s and 429s, the
commit-then-drop fault (one ledger entry after the retry), latency, route
classes, and bodies that are oversized, truncated, invalid UTF-8, NUL-laden,
deeply nested, duplicate-keyed or numerically absurd, plus slow senders."""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402
from dinotest import KEY, Sandbox, test_seed, wait_until  # noqa: E402


def setup():
    # A short I/O timeout so the slow-sender test is quick.
    return Sandbox(seed=test_seed(), args=["--timeout", "1"])


def teardown(s):
    if s is not None:
        rc = s.stop()
        tap.check(rc == 0, "sandbox exits 0 after the hostile input "
                  "(rc=%s)" % rc)


def is_envelope(body, code):
    return (isinstance(body, dict) and
            body.get("error", {}).get("code") == code and
            isinstance(body["error"].get("details"), dict))


def alive(s):
    st, _, _ = s.request("GET", "/v1/balance", key=KEY)
    return st == 200


def count_key(s, k):
    return sum(c["count"] for c in s.ledger()["idempotency_counts"]
               if c["idempotency_key"] == k)


def test_error_500_next(s):
    s.faults(reset=True, error_500_next=2)
    got = [s.create(100, idem="f500")[0] for _ in range(3)]
    tap.check(got == [500, 500, 200], "two 500s then success: %s" % got)
    st, _, b = s.create(100, idem="f500")
    tap.check(st == 200, "replay after recovery")
    tap.check(count_key(s, "f500") == 1, "one ledger entry for the key")
    s.faults(reset=True, error_500_next=1)
    st, _, b = s.create(100, idem="f500b")
    tap.check(st == 500 and is_envelope(b, "internal_error"),
              "500 carries the envelope")
    tap.check(count_key(s, "f500b") == 0, "a 500 stores nothing")


def test_error_429(s):
    s.faults(reset=True, error_429_next=1, retry_after_s=3)
    st, h, b = s.create(100, idem="f429")
    tap.check(st == 429 and is_envelope(b, "rate_limited"), "429 envelope")
    tap.check(h.get("retry-after") == "3", "Retry-After header")
    st, _, b = s.create(100, idem="f429")
    tap.check(st == 200 and count_key(s, "f429") == 1,
              "retry succeeds once")
    s.faults(reset=True, error_429_pct=100)
    tap.check(all(s.request("GET", "/v1/balance", key=KEY)[0] == 429
                  for _ in range(5)), "100% 429")
    s.faults(error_429_pct=0)
    tap.check(alive(s), "percentage cleared")


def test_drop_after_commit(s):
    s.faults(reset=True, drop_after_commit_next=1)
    lost = False
    try:
        s.create(100, idem="drop1")
    except (http.client.RemoteDisconnected, ConnectionResetError,
            http.client.IncompleteRead, BrokenPipeError):
        lost = True
    tap.check(lost, "the connection closes with no answer")
    tap.check(count_key(s, "drop1") == 1, "but the spend was committed")
    st, _, b = s.create(100, idem="drop1")
    tap.check(st == 200 and b["status"] == "approved", "retry replays")
    led = s.ledger()
    tap.check(count_key(s, "drop1") == 1 and
              len([x for x in led["spends"]
                   if x["idempotency_key"] == "drop1"]) == 1,
              "nothing spent twice")
    s.faults(reset=True, drop_after_commit_pct=100)
    drops = 0
    for i in range(3):
        try:
            s.create(100, idem="dp%d" % i)
        except (http.client.RemoteDisconnected, ConnectionResetError,
                http.client.IncompleteRead, BrokenPipeError):
            drops += 1
    s.faults(reset=True)
    tap.check(drops == 3, "100% drop")
    tap.check(all(count_key(s, "dp%d" % i) == 1 for i in range(3)),
              "each dropped create committed once")


def test_latency(s):
    s.faults(reset=True, latency_ms=400)
    t0 = time.monotonic()
    st, _, _ = s.request("GET", "/v1/balance", key=KEY)
    dt = time.monotonic() - t0
    tap.check(st == 200 and dt >= 0.35, "latency added (%.2fs)" % dt)
    # A client that gives up during the delay must not hurt the server.
    for _ in range(3):
        c = socket.create_connection((s.host, s.port), timeout=5)
        c.sendall(b"GET /v1/balance HTTP/1.1\r\nHost: x\r\n"
                  b"Authorization: Bearer " + KEY.encode() + b"\r\n\r\n")
        c.close()
    time.sleep(0.6)
    s.faults(reset=True)
    tap.check(alive(s), "alive after clients left during latency")
    # Latency then drop: still committed once.
    s.faults(latency_ms=200, drop_after_commit_next=1)
    try:
        s.create(100, idem="latdrop")
    except (http.client.RemoteDisconnected, ConnectionResetError,
            http.client.IncompleteRead, BrokenPipeError):
        pass
    s.faults(reset=True)
    tap.check(count_key(s, "latdrop") == 1, "latency + drop commits once")


def test_route_classes(s):
    s.faults(reset=True, error_500_next=1, routes=["create"])
    tap.check(alive(s), "reads unaffected by a create-only fault")
    st, _, _ = s.create(100, idem="rc1")
    tap.check(st == 500, "create hit by the create-only fault")
    s.faults(reset=True, error_500_next=1, routes=["read"])
    st, _, _ = s.create(100, idem="rc2")
    tap.check(st == 200, "create unaffected by a read-only fault")
    st, _, _ = s.request("GET", "/v1/balance", key=KEY)
    tap.check(st == 500, "read hit")
    s.faults(reset=True, error_500_pct=100)
    tap.check(all(s.request("GET", "/v1/balance", key=KEY)[0] == 500
                  for _ in range(5)), "100% 500")
    st, _, _ = s.admin("GET", "/_sandbox/ledger")
    tap.check(st == 200, "operator routes are never faulted")
    s.faults(reset=True)
    st, _, b = s.admin("POST", "/_sandbox/faults", {"error_500_pct": 200})
    tap.check(st == 400 and is_envelope(b, "invalid_request") and
              b["error"]["message"].startswith("faults.error_500_pct"),
              "faults validated, naming the field: %r" % b)
    st, _, b = s.admin("POST", "/_sandbox/faults", {"bogus": 1})
    tap.check(st == 400, "unknown fault field")
    st, _, b = s.admin("GET", "/_sandbox/faults")
    tap.check(st == 200 and b["error_500_pct"] == 0, "GET faults")


def post_raw(s, body, extra=b""):
    req = (b"POST /v1/spend HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Authorization: Bearer " + KEY.encode() + b"\r\n"
           b"Content-Type: application/json\r\n" + extra +
           b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    return s.raw(req, timeout=5)


def status_of(resp):
    try:
        return int(resp.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def envelope_of(resp):
    try:
        return json.loads(resp.split(b"\r\n\r\n", 1)[1])
    except (IndexError, ValueError):
        return None


def test_hostile_bodies(s):
    good = b'{"amount_cents":1,"currency":"usd","merchant_name":"AWS"}'
    tap.check(status_of(post_raw(s, good)) == 200, "raw control case")
    cases = [
        ("truncated", b'{"amount_cents": 1'),
        ("invalid utf-8", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"\xff\xfe"}'),
        ("overlong utf-8", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"\xc0\xaf"}'),
        ("NUL byte", good[:-1] + b'\x00}'),
        ("escaped NUL", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"A\\u0000B"}'),
        ("deep nesting", b'[' * 5000 + b']' * 5000),
        ("nested reason", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":"A","reason":' + b'{"a":' * 20 + b'1' +
         b'}' * 20 + b'}'),
        ("duplicate keys", b'{"amount_cents":1,"amount_cents":2,'
         b'"currency":"usd","merchant_name":"A"}'),
        ("1e400", b'{"amount_cents":1e400,"currency":"usd",'
         b'"merchant_name":"A"}'),
        ("huge integer", b'{"amount_cents":1234567890123456789012345678,'
         b'"currency":"usd","merchant_name":"A"}'),
        ("NaN", b'{"amount_cents":NaN,"currency":"usd",'
         b'"merchant_name":"A"}'),
        ("trailing bytes", good + b'xyz'),
        ("two documents", good + good),
        ("array body", b'[1,2,3]'),
        ("string body", b'"hello"'),
        ("empty body", b''),
        ("not json", b'amount_cents=1'),
        ("null merchant", b'{"amount_cents":1,"currency":"usd",'
         b'"merchant_name":null}'),
    ]
    for name, body in cases:
        resp = post_raw(s, body)
        tap.check(status_of(resp) == 400 and
                  is_envelope(envelope_of(resp), "invalid_request"),
                  "400 envelope for %s (%r)" % (name, resp[:60]))
    big = b'{"amount_cents":1,"currency":"usd","merchant_name":"A",' \
          b'"reason":"' + b'r' * 70000 + b'"}'
    resp = post_raw(s, big)
    tap.check(status_of(resp) == 413 and
              is_envelope(envelope_of(resp), "invalid_request"),
              "413 envelope over 64 KiB")
    huge = b'x' * (2 * 1024 * 1024)
    resp = post_raw(s, huge)
    tap.check(status_of(resp) in (413, None), "2 MiB refused by evhttp")
    tap.check(alive(s), "alive after hostile bodies")


def test_hostile_framing(s):
    resp = s.raw(b"GARBAGE\r\n\r\n")
    tap.check(status_of(resp) in (400, None), "garbage request line")
    resp = s.raw(b"GET /v1/balance HTTP/1.1\r\nHost: x\r\nX-Big: " +
                 b"a" * 40000 + b"\r\n\r\n")
    tap.check(status_of(resp) in (400, 413, 431, None), "oversized headers")
    # The client promises 100 bytes, sends 10 and closes its side.
    resp = s.raw(b"POST /v1/spend HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 100\r\n\r\n{\"amount_", shutdown_write=True)
    tap.check(status_of(resp) in (400, None), "truncated body then EOF")
    resp = s.raw(b"POST /v1/spend HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: -5\r\n\r\n")
    tap.check(status_of(resp) in (400, None), "negative Content-Length")
    tap.check(alive(s), "alive after hostile framing")


def test_slow_sender(s):
    # Two slow clients hold connections; the server must keep serving and
    # close them after its timeout (1 s here).
    slow = []
    for _ in range(2):
        c = socket.create_connection((s.host, s.port), timeout=10)
        c.sendall(b"POST /v1/spend HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 50\r\n\r\n{")
        slow.append(c)
    t0 = time.monotonic()
    tap.check(alive(s), "serves while slow clients dribble")
    tap.check(time.monotonic() - t0 < 2, "not blocked by slow clients")
    closed = 0
    for c in slow:
        c.settimeout(8)
        try:
            data = c.recv(4096)
            closed += 1 if (data == b"" or status_of(data) is not None) \
                else 0
        except ConnectionResetError:
            closed += 1
        except socket.timeout:
            pass
        c.close()
    tap.check(closed == 2, "slow clients timed out by the server")
    # Idle keep-alive connection: closed after the timeout as well.
    c = socket.create_connection((s.host, s.port), timeout=10)
    t0 = time.monotonic()
    try:
        data = c.recv(10)
    except socket.timeout:
        data = None
    c.close()
    tap.check(data == b"" and time.monotonic() - t0 < 8,
              "idle connection closed")
    tap.check(wait_until(lambda: alive(s), 5), "alive after slow senders")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
