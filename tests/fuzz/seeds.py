#!/usr/bin/env python3
"""Writes the checked-in seed corpora of the fuzz harnesses.

    python3 tests/fuzz/seeds.py        (from the top of the tree)

Seeds are valid examples (from the unit tests and dino-api.md) plus a few
near misses; libFuzzer mutates from there.  Each harness's input format is
described at the top of tests/fuzz/fuzz_<name>.c.  Re-running rewrites the
files with the same contents, so the corpora stay reviewable.
"""
import hashlib
import json
import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")

SPEND_ID = "req_01jwx4k2p0000000000000000a"


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- agent requests ----------------------------------------------------
CREATE = {"amount_cents": 12000, "currency": "usd", "merchant_name": "AWS",
          "reason": "GPU runtime for evaluation job"}


def validate():
    bodies = {
        "create_doc": json.dumps(CREATE),
        "create_key": json.dumps(dict(CREATE, idempotency_key="job-42-gpu")),
        "create_min": '{"amount_cents":1,"currency":"usd","merchant_name":"A","reason":""}',
        "create_max": json.dumps(dict(CREATE, amount_cents=1000000000)),
        "create_float": '{"amount_cents":1.2e3,"currency":"usd","merchant_name":"AWS","reason":"r"}',
        "create_utf8": json.dumps(dict(CREATE, merchant_name="Caf\u00e9 \u2603"),
                                  ensure_ascii=False),
        "create_escape": '{"amount_cents":5,"currency":"usd","merchant_name":"\\u00e9\\ud83d\\ude00","reason":"a\\"b"}',
        "create_ws": ' \r\n{ "amount_cents" : 60000 , "currency":"usd","merchant_name":"OpenAI","reason":"x" }\n',
        "dup_key": '{"amount_cents":1,"amount_cents":2,"currency":"usd","merchant_name":"A","reason":""}',
        "unknown": '{"amount_cents":1,"currency":"usd","merchant_name":"A","reason":"","extra":1}',
        "nested": "[" * 20 + "]" * 20,
        "u0000": '{"amount_cents":1,"currency":"usd","merchant_name":"A\\u0000B","reason":""}',
        "bignum": '{"amount_cents":1e400,"currency":"usd","merchant_name":"A","reason":""}',
        "neg": '{"amount_cents":-5,"currency":"USD","merchant_name":"","reason":null}',
        "types": '{"amount_cents":"12","currency":1,"merchant_name":[],"reason":{}}',
        "trailing": json.dumps(CREATE) + " {}",
    }
    for k, v in bodies.items():
        write("validate", k, v)
    # Header values, method, path, query separated by NUL bytes.
    heads = [
        ("application/json", "POST", "/tools/create_spend", ""),
        ("application/json; charset=utf-8", "GET", "/tools/get_spend/" + SPEND_ID, ""),
        ("application/json;charset=\"UTF-8\"", "GET", "/tools/wait_spend/" + SPEND_ID, "timeout_s=30"),
        ("agent-7", "GET", "/tools/get_balance", ""),
        ("text/plain", "GET", "/healthz", "timeout_s=300"),
        ("", "DELETE", "/tools", "timeout_s=0x10"),
    ]
    for i, h in enumerate(heads):
        write("validate", "route_%d" % i, "\0".join(h))


# --- IPC ----------------------------------------------------------------
def s(v, enc="utf-8"):
    b = v.encode(enc)
    return struct.pack("<H", len(b)) + b + b"\0"


def u8(v):
    return struct.pack("<B", v)


def u32(v):
    return struct.pack("<I", v)


def i64(v):
    return struct.pack("<q", v)


def msg(t, payload, reqid=7):
    return struct.pack("<IIII", t, 16 + len(payload), reqid, 1) + payload


def caller(uid=1000, agent="agent-7"):
    return u32(uid) + u32(uid) + u32(4242) + s(agent)


def spend_payload(status="approved"):
    return (u8(0) + u8(0) + s(SPEND_ID) + s(status) +
            s("Spend request approved") + s("monthly") + u8(1) + i64(38000) +
            i64(38000) + i64(12000) + s("usd") + s("AWS") + s("GPU") +
            s("" if status != "needs_approval" else "https://app.dino.id/x") +
            s("team_a") + s("agent_a") + s("2026-05-07T12:34:56.000Z") +
            s("2026-05-07T12:30:00.000Z") + s("2026-05-07T12:34:56.000Z") +
            s("job-42"))


def ipc():
    # MSG_* numbers from common/proto.h.
    write("ipc", "hello", msg(2, u32(1234), 0))
    write("ipc", "config", msg(3, u32(64) + u32(60) + u32(300), 0))
    write("ipc", "create", msg(4, caller() + i64(12000) + s("usd") + s("AWS") +
                               s("GPU runtime") + s("job-42")))
    write("ipc", "create_nokey", msg(4, caller(agent="") + i64(1) + s("usd") +
                                     s("A") + s("") + s("")))
    write("ipc", "spend", msg(5, spend_payload()))
    write("ipc", "spend_pending", msg(5, spend_payload("needs_approval")))
    write("ipc", "spend_update", msg(11, spend_payload("declined"), 0))
    write("ipc", "get_balance", msg(6, caller()))
    bal = s("usd") + s("monthly")
    for i in range(5):
        bal += u8(1) + i64(50000 - i)
    write("ipc", "balance", msg(7, bal))
    write("ipc", "get_spend", msg(8, caller() + s(SPEND_ID)))
    write("ipc", "error", msg(9, u32(429) + s("rate_limited") +
                              s("Rate limit exceeded")))
    write("ipc", "wait_spend", msg(10, caller() + s(SPEND_ID) + u32(30)))
    write("ipc", "truncated", msg(4, caller())[:30])
    write("ipc", "trailing", msg(6, caller() + b"\0"))
    write("ipc", "badlen", struct.pack("<IIII", 6, 9999, 1, 1) + caller())
    # The harness's second form: type index byte, then the payload.
    write("ipc", "raw_create", b"\x02" + caller() + i64(5) + s("usd") +
          s("B") + s("") + s(""))
    write("ipc", "raw_spend", b"\x03" + spend_payload())


# --- Dino bodies --------------------------------------------------------
APPROVED = ('{"id":"req_123","status":"approved","decision_reason":"Spend request approved",'
            '"budget_period":"monthly","remaining_budget_cents":38000,'
            '"remaining_monthly_budget_cents":38000,"amount_cents":12000,"currency":"usd",'
            '"merchant_name":"AWS"}')
PENDING = ('{"id":"req_124","status":"needs_approval","decision_reason":"Amount requires approval",'
           '"budget_period":"monthly","remaining_budget_cents":50000,'
           '"remaining_monthly_budget_cents":50000,"amount_cents":60000,"currency":"usd",'
           '"merchant_name":"OpenAI","approval_url":"https://app.dino.id/agents/approvals?spendRequestId=req_124"}')
DECLINED = ('{"id":"req_125","status":"declined","decision_reason":"Amount would exceed the budget for this period",'
            '"budget_period":"monthly","remaining_budget_cents":5000,'
            '"remaining_monthly_budget_cents":5000,"amount_cents":12000,"currency":"usd","merchant_name":"..."}')


def event(etype="spend_request.approved", status="approved", evt="evt_01jwx4k2p0000000000000000",
          sid=SPEND_ID, amount=60000, updated="2026-05-07T12:34:56.000Z"):
    return json.dumps({
        "id": evt, "type": etype, "occurred_at": "2026-05-07T12:34:56.000Z",
        "request_id": "req_trace_01jwx4k2p0000000000000000",
        "data": {"spend": {
            "id": sid, "team_id": "team_01jwx4k2p0000000000000000",
            "agent_account_id": "agent_a", "status": status,
            "decision_reason": "Approved by operator", "amount_cents": amount,
            "currency": "usd", "merchant_name": "AWS",
            "reason": "GPU runtime for evaluation job",
            "decided_at": "2026-05-07T12:34:56.000Z" if status != "needs_approval" else None,
            "created_at": "2026-05-07T12:30:00.000Z", "updated_at": updated}}},
        separators=(",", ":"))


def dinojson():
    for k, v in {"approved": APPROVED, "pending": PENDING, "declined": DECLINED,
                 "event": event(), "event_cancel": event("spend_request.cancelled", "cancelled"),
                 "event_created": event("spend_request.created", "needs_approval"),
                 "balance": '{"currency":"usd","wallet_available_cents":100000,"budget_cents":50000,'
                            '"spent_cents":12000,"remaining_budget_cents":38000,'
                            '"remaining_monthly_budget_cents":38000,"budget_period":"monthly"}',
                 "balance_min": '{"currency":"usd"}',
                 "error": '{"error":{"code":"rate_limited","message":"Rate limit exceeded","details":{}}}',
                 "error_nodetails": '{"error":{"code":"invalid_request","message":"amount_cents: must be > 0"}}',
                 "error_bad": '{"error":"boom"}',
                 "html": "<html>502 Bad Gateway</html>",
                 "empty": "",
                 "nulls": '{"id":null,"status":null,"amount_cents":null}',
                 "bigint": APPROVED.replace("12000", "1e308"),
                 }.items():
        write("dinojson", k, v)


# --- webhooks -----------------------------------------------------------
def webhook():
    # Mode byte 0: signed by the harness.  Mode 1: headers then body.
    for i, (t, st) in enumerate([("spend_request.approved", "approved"),
                                 ("spend_request.declined", "declined"),
                                 ("spend_request.cancelled", "cancelled"),
                                 ("spend_request.created", "needs_approval")]):
        write("webhook", "signed_%d" % i, b"\0" + event(t, st, evt="evt_%d" % i).encode())
    write("webhook", "signed_legacy_on", b"\2" + event(evt="evt_l").encode())
    write("webhook", "signed_stale", b"\0" + event(updated="2026-05-07T12:00:00.000Z",
                                                   evt="evt_s").encode())
    write("webhook", "signed_mismatch", b"\0" + event(amount=1, evt="evt_m").encode())
    write("webhook", "signed_unknown", b"\0" + event(sid="req_01jwx4k2p0000000000000000z",
                                                     evt="evt_u").encode())
    write("webhook", "signed_other_type", b"\0" + event("purchase_intent.created", evt="evt_p").encode())
    body = event(evt="evt_r").encode()
    # Signatures the harness cannot match: verification's failure paths.
    sig = b"t=1778157296,v1=" + b"0" * 64 + b",v1=" + b"a" * 64
    write("webhook", "raw_v1", b"\1" + sig + b"\n\nevt_r\nspend_request.approved\n" + body)
    write("webhook", "raw_legacy", b"\3\n" + b"f" * 64 + b"\nevt_r\nspend_request.approved\n" + body)
    write("webhook", "raw_nosig", b"\1\n\nevt_r\nspend_request.approved\n" + body)
    write("webhook", "raw_badhdr", b"\1t=abc,v1=zz,v0=\n\n\x01\n\n{}")


# --- config -------------------------------------------------------------
CONFIG = """instance_id host-a
user nobody
# a comment line
dino_url           http://127.0.0.1:8080   # the sandbox
dino_spend_path    spend-requests
allow_http_loopback yes
connect_timeout_ms 1000
total_timeout_ms   2000
ipc_socket         /run/dino-broker/ipc.sock
paused             no
log_level          debug
journal_dir        /var/lib/dino-broker/journal
journal_retention_days 90
webhook_listen     127.0.0.1:8556
webhook_path       /webhooks/dino
webhook_secret_credential dino-webhook.secret
webhook_tolerance_s 300
account default {
    key_file   /etc/dino-broker/keys/default.key
}
account other {
    credential other-key
}
principal uid 1000 {
    account             default
    max_amount_cents    50000
    daily_cap_cents     200000
    spends_per_minute   10
    currencies          usd eur
    merchants_allow     AWS OpenAI "Google Cloud"
    merchants_deny      Casino "say \\"hi\\""
}
principal user root {
    account other
}
principal group root {
    account default
}
"""


def config():
    write("config", "full", CONFIG)
    with open(os.path.join(TOP, "docs", "dino-broker.conf.example"), "rb") as f:
        write("config", "example", f.read())
    head = "instance_id host-a\nuser nobody\n"
    for i, t in enumerate([
            "frobnicate yes\n", "account a {\n  key_fle /x\n}\n",
            "connect_timeout_ms\n", "paused maybe\n",
            "account a {\n key_file /k\n}\naccount a {\n key_file /k\n}\n",
            "account a {\n key_file /k\n", "account a {\n}\n",
            "account a {\n key_file /k\n credential c\n}\n",
            "account a {\n credential ../etc/x\n}\n", "principal team x {\n}\n",
            "webhook_listen /run/dino-broker/webhook.sock\n", "log_level \"debug\n",
            "account a { key_file /k }\n", "x" * 5000 + "\n", "\r\n\t \n#\n"]):
        write("config", "err_%02d" % i, head + t)


# --- journal ------------------------------------------------------------
def journal_records():
    intent = {"key": "dbk_" + "a" * 40, "agent_key": "job-42", "principal": "uid:1000",
              "account": "main", "caller": "uid:1000", "agent": "agent-7",
              "amount_cents": 12000, "currency": "usd", "merchant_name": "AWS",
              "reason": "GPU", "created_ms": 1778157000000}
    spend = json.loads(APPROVED)
    spend["id"] = SPEND_ID
    return [
        ("start", {"pid": 1, "version": "1"}),
        ("config_load", {"path": "/etc/dino-broker/dino-broker.conf", "accounts": 1}),
        ("intent", intent),
        ("outcome", {"key": intent["key"], "http_status": 200, "attempts": 1,
                     "dino_request_id": "r1", "result": "spend", "spend": spend}),
        ("status", {"key": intent["key"], "id": SPEND_ID, "from": "needs_approval",
                    "to": "approved", "spend": spend}),
        ("outcome", {"key": intent["key"], "http_status": 429, "attempts": 3, "result": "refused",
                     "error": {"http_status": 429, "code": "rate_limited", "message": "slow"}}),
        ("webhook", {"event_id": "evt_1", "type": "spend_request.approved",
                     "spend_id": SPEND_ID, "outcome": "applied"}),
        ("stop", {"open_intents": 0}),
    ]


def rec_prefix(seq, typ, fields):
    return ('{"seq":%d,"ts":"2026-05-07T12:34:56.%03dZ","type":%s,"fields":%s' %
            (seq, seq % 1000, json.dumps(typ), json.dumps(fields, separators=(",", ":"))))


def journal():
    recs = journal_records()
    lines = [rec_prefix(i + 1, t, f) for i, (t, f) in enumerate(recs)]
    # Chained by the harness (mode 1).
    write("journal", "chain_all", b"\1" + "\n".join(lines).encode())
    for i in range(len(lines)):
        write("journal", "chain_%d" % i, b"\1" + "\n".join(lines[:i + 1]).encode())
    # As on disk (mode 0), chained here the way journal.c writes it.
    prev = b"\0" * 32
    disk = []
    for p in lines:
        p = p + ',"prev":"%s"' % prev.hex()
        h = hashlib.blake2b((p + "}").encode(), digest_size=32).digest()
        disk.append(p + ',"hash":"%s"}\n' % h.hex())
        prev = h
    write("journal", "disk_all", b"\0" + "".join(disk).encode())
    write("journal", "disk_torn", b"\0" + "".join(disk)[:-20].encode())
    write("journal", "disk_swapped", b"\0" + (disk[1] + disk[0]).encode())
    write("journal", "disk_altered", b"\0" + disk[0].replace('"pid":1', '"pid":2').encode())
    write("journal", "disk_empty", b"\0")


# --- MCP ------------------------------------------------------------------
def mcp():
    lines = {
        "init": {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                 "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                            "clientInfo": {"name": "fuzz", "version": "1"}}},
        "init_old": {"jsonrpc": "2.0", "id": "a", "method": "initialize",
                     "params": {"protocolVersion": "2024-11-05"}},
        "initialized": {"jsonrpc": "2.0", "method": "notifications/initialized"},
        "ping": {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        "list": {"jsonrpc": "2.0", "id": 3, "method": "tools/list"},
        "call_create": {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                        "params": {"name": "create_spend", "arguments": CREATE}},
        "call_balance": {"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                         "params": {"name": "get_balance", "arguments": {}}},
        "call_get": {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                     "params": {"name": "get_spend", "arguments": {"id": SPEND_ID}}},
        "call_wait": {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                      "params": {"name": "wait_spend", "arguments": {"id": SPEND_ID,
                                                                      "timeout_s": 5}}},
        "unknown": {"jsonrpc": "2.0", "id": 8, "method": "resources/list"},
        "response": {"jsonrpc": "2.0", "id": 9, "result": {}},
        "bad_version": {"jsonrpc": "1.0", "id": 10, "method": "ping"},
        "batch": [{"jsonrpc": "2.0", "id": 11, "method": "ping"}],
    }
    for k, v in lines.items():
        write("mcp", k, json.dumps(v))
    write("mcp", "garbage", "{\"jsonrpc\":")
    # With a scripted frontend answer after 0xff (status from its first byte).
    call = json.dumps(lines["call_create"]).encode()
    write("mcp", "ans_spend", call + b"\xff" + APPROVED.encode())
    write("mcp", "ans_pending", call + b"\xff" + PENDING.encode())
    write("mcp", "ans_error", call + b"\xff" +
          b'{"error":{"code":"policy_denied","message":"over the cap"}}')
    write("mcp", "ans_garbage", json.dumps(lines["call_balance"]).encode() + b"\xff\x05not json")


def main():
    for f in (validate, ipc, dinojson, webhook, config, journal, mcp):
        f()
    return 0


if __name__ == "__main__":
    sys.exit(main())
