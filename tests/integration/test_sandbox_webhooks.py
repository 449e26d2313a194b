#!/usr/bin/python3
"""dino-sandbox webhooks: events per decision, the six headers, both
signatures checked by an independent verifier, retries with backoff and a
fresh signature per attempt, expiry to cancelled, endpoint filters, UNIX
socket receivers, and the duplicate / reorder / pause faults."""
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap  # noqa: E402
from dinotest import (KEY, SECRET, Sandbox, WebhookReceiver,  # noqa: E402
                      test_seed, verify_dino_signature, wait_until)

HEADERS = ("dino-event-id", "dino-event-type", "dino-delivery-attempt",
           "dino-request-id", "x-dino-signature-sha256", "dino-signature")
DATA_FIELDS = {"id", "team_id", "agent_account_id", "status",
               "decision_reason", "amount_cents", "currency",
               "merchant_name", "reason", "decided_at", "created_at",
               "updated_at"}


def types_for(rx, spend_id):
    return [b["type"] for _, b in rx.events()
            if b["data"]["spend"]["id"] == spend_id]


def test_auto_decision_events():
    with WebhookReceiver() as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()])) as s:
        st, _, b = s.create(1500, idem="w1",
                            headers={"X-Request-Id": "trace-w1"})
        tap.check(b["status"] == "approved", "approved")
        tap.check(rx.wait_for(2), "two deliveries arrive")
        evs = rx.events()
        types = sorted(e[1]["type"] for e in evs)
        tap.check(types == ["spend_request.approved",
                            "spend_request.created"],
                  "created and approved: %s" % types)
        for d in rx.snapshot():
            h, body = d["headers"], d["body"]
            tap.check(all(k in h for k in HEADERS), "all six headers")
            ok, why = verify_dino_signature(SECRET, h, body)
            tap.check(ok, "signatures verify: " + why)
            ev = json.loads(body)
            tap.check(h["dino-event-id"] == ev["id"] and
                      ev["id"].startswith("evt_") and len(ev["id"]) == 30,
                      "event id header matches body")
            tap.check(h["dino-event-type"] == ev["type"], "type header")
            tap.check(h["dino-delivery-attempt"] == "1", "attempt 1")
            tap.check(h["dino-request-id"] == "trace-w1" and
                      ev["request_id"] == "trace-w1", "request id carried")
            tap.check(set(ev["data"]["spend"]) == DATA_FIELDS,
                      "data.spend fields")
            tap.check(ev["data"]["spend"]["status"] == "approved" and
                      ev["occurred_at"].endswith("Z"), "payload status")
            tap.check(h.get("content-type") == "application/json",
                      "content type")
            # Tampering is caught by the independent verifier.
            bad, _ = verify_dino_signature(SECRET, h, body + b" ")
            tap.check(not bad, "a changed body fails verification")
            bad, _ = verify_dino_signature("whsec_other", h, body)
            tap.check(not bad, "another secret fails verification")
        ids = {d["headers"]["dino-event-id"] for d in rx.snapshot()}
        tap.check(len(ids) == 2, "distinct event ids")
        st, _, b = s.create(20001, idem="w2")
        tap.check(b["status"] == "declined", "declined by max")
        tap.check(rx.wait_for(4), "declined events arrive")
        tap.check(sorted(types_for(rx, b["id"])) ==
                  ["spend_request.created", "spend_request.declined"],
                  "created and declined")
        # Replays and errors emit nothing.
        s.create(1500, idem="w1")
        s.create(0, idem="w3")
        time.sleep(0.5)
        tap.check(len(rx.snapshot()) == 4, "no events for replay or error")


def test_pending_then_operator():
    with WebhookReceiver() as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()])) as s:
        st, _, b = s.create(15000, idem="p1")
        tap.check(b["status"] == "needs_approval", "pending")
        tap.check(rx.wait_for(1), "created arrives")
        h0 = rx.snapshot()[0]["headers"]
        tap.check(h0["dino-request-id"].startswith("req_trace_"),
                  "a request id is generated when none was sent")
        time.sleep(0.3)
        tap.check(types_for(rx, b["id"]) == ["spend_request.created"],
                  "pending emits created only")
        s.admin("POST", "/_sandbox/spends/%s/approve" % b["id"])
        tap.check(rx.wait_for(2), "approval event arrives")
        last = rx.events()[-1][1]
        tap.check(last["type"] == "spend_request.approved" and
                  last["data"]["spend"]["decision_reason"] ==
                  "Approved by operator" and
                  last["data"]["spend"]["decided_at"] is not None,
                  "operator approval event")


def test_retries_resign():
    # Fail the first two attempts of every event, then accept.
    seen = {}

    def respond(i, h, body):
        eid = h.get("dino-event-id")
        seen[eid] = seen.get(eid, 0) + 1
        return 503 if seen[eid] <= 2 else 200

    with WebhookReceiver(respond) as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint(
                events=["spend_request.created"])],
                webhook_retry_delays_s=[1.1, 0.3])) as s:
        st, _, b = s.create(100, idem="r1")
        tap.check(rx.wait_for(3, timeout=15), "three attempts arrive")
        time.sleep(0.5)
        ds = rx.snapshot()
        tap.check(len(ds) == 3, "exactly three attempts (%d)" % len(ds))
        tap.check([d["headers"]["dino-delivery-attempt"] for d in ds] ==
                  ["1", "2", "3"], "attempt numbers increment")
        tap.check(len({d["headers"]["dino-event-id"] for d in ds}) == 1 and
                  len({d["body"] for d in ds}) == 1,
                  "same event id and body on every attempt")
        tap.check(all(verify_dino_signature(SECRET, d["headers"],
                                            d["body"])[0] for d in ds),
                  "every attempt verifies")
        t = [int(d["headers"]["dino-signature"].split(",")[0][2:])
             for d in ds]
        tap.check(t[1] > t[0], "a fresh t after a 1.1 s backoff")
        tap.check(ds[1]["time"] - ds[0]["time"] >= 1.0, "backoff honoured")
        tap.check(types_for(rx, b["id"]) == ["spend_request.created"] * 3,
                  "the filter drops approved")


def test_gives_up():
    with WebhookReceiver(lambda i, h, b: 500) as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint(
                events=["spend_request.created"])],
                webhook_retry_delays_s=[0.1, 0.1])) as s:
        s.create(100, idem="g1")
        tap.check(rx.wait_for(3), "1 + 2 retries")
        time.sleep(0.8)
        tap.check(len(rx.snapshot()) == 3, "then gives up")
        tap.check("webhook_gave_up" in s.stderr(), "gave up is logged")


def test_expiry():
    with WebhookReceiver() as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()],
                                   approval_expiry_s=0.5)) as s:
        st, _, b = s.create(15000, idem="e1")
        tap.check(rx.wait_for(2, timeout=10), "created and cancelled")
        st, _, g = s.request("GET", "/v1/spend/" + b["id"], key=KEY)
        tap.check(g["status"] == "cancelled" and
                  g["decision_reason"] == "Approval request expired" and
                  g["decided_at"] is not None, "expired to cancelled")
        tap.check(types_for(rx, b["id"]) ==
                  ["spend_request.created", "spend_request.cancelled"],
                  "cancelled event after expiry")
        st, _, r = s.admin("POST", "/_sandbox/spends/%s/approve" % b["id"])
        tap.check(st == 409, "expired spend cannot be approved")
        # An approved spend never expires.
        st, _, c = s.create(15001, idem="e2")
        s.admin("POST", "/_sandbox/spends/%s/approve" % c["id"])
        time.sleep(1.0)
        st, _, g = s.request("GET", "/v1/spend/" + c["id"], key=KEY)
        tap.check(g["status"] == "approved", "approved does not expire")


def test_unix_socket_receiver():
    d = tempfile.mkdtemp(prefix="dino-wh-")
    with WebhookReceiver(unix_path=os.path.join(d, "hook.sock")) as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()])) as s:
        s.create(100, idem="u1")
        tap.check(rx.wait_for(2), "delivered over a UNIX socket")
        tap.check(all(verify_dino_signature(SECRET, x["headers"],
                                            x["body"])[0]
                      for x in rx.snapshot()), "verifies over UNIX socket")


def test_duplicate_reorder_pause():
    with WebhookReceiver() as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()])) as s:
        s.faults(webhook_duplicate=True)
        st, _, b = s.create(100, idem="d1")
        tap.check(rx.wait_for(4), "duplicates arrive")
        time.sleep(0.3)
        ids = [h["dino-event-id"] for h, _ in rx.events()]
        tap.check(len(ids) == 4 and len(set(ids)) == 2,
                  "each event twice with the same id")
        s.faults(reset=True, webhook_reorder=True, webhook_reorder_ms=700)
        st, _, b = s.create(101, idem="d2")
        tap.check(rx.wait_for(6), "reordered events arrive")
        tap.check(types_for(rx, b["id"]) == ["spend_request.approved",
                                             "spend_request.created"],
                  "decision arrives before created")
        s.faults(reset=True, webhooks_paused=True)
        st, _, b = s.create(102, idem="d3")
        time.sleep(0.8)
        tap.check(len(rx.snapshot()) == 6, "nothing while paused")
        s.faults(webhooks_paused=False)
        tap.check(rx.wait_for(8), "held deliveries sent on unpause")
        tap.check(sorted(types_for(rx, b["id"])) ==
                  ["spend_request.approved", "spend_request.created"],
                  "both held events delivered")
        # Pausing through the seed works the same.
    with WebhookReceiver() as rx, \
            Sandbox(seed=test_seed(webhooks=[rx.endpoint()],
                                   faults={"webhooks_paused": True}),
                    admin_token="t") as s:
        s.create(100, idem="s1")
        time.sleep(0.5)
        tap.check(len(rx.snapshot()) == 0, "seed pause holds deliveries")
        rc, out, err = s.ctl("faults", '{"webhooks_paused": false}')
        tap.check(rc == 0 and rx.wait_for(2), "subcommand unpauses")


def test_two_endpoints_and_filters():
    with WebhookReceiver() as a, WebhookReceiver() as b, \
            Sandbox(seed=test_seed(webhooks=[
                a.endpoint(),
                b.endpoint(secret="whsec_second",
                           events=["spend_request.approved"])])) as s:
        s.create(100, idem="f1")
        tap.check(a.wait_for(2) and b.wait_for(1), "both endpoints")
        time.sleep(0.3)
        tap.check([e[1]["type"] for e in b.events()] ==
                  ["spend_request.approved"], "filter honoured")
        x = b.snapshot()[0]
        tap.check(verify_dino_signature("whsec_second", x["headers"],
                                        x["body"])[0],
                  "per-endpoint secret")
        tap.check(not verify_dino_signature(SECRET, x["headers"],
                                            x["body"])[0],
                  "not signed with the other secret")


def test_stop_with_pending_deliveries():
    # A dead receiver and a long backoff: SIGTERM must still exit cleanly.
    s = Sandbox(seed=test_seed(webhooks=[{"url": "http://127.0.0.1:9/x",
                                          "secret": SECRET}],
                               webhook_retry_delays_s=[60]))
    s.create(100, idem="x1")
    s.create(15000, idem="x2")
    wait_until(lambda: "webhook_retry" in s.stderr(), 5)
    rc = s.stop()
    tap.check(rc == 0, "clean exit with queued retries and pending spends "
              "(rc=%s)" % rc)


if __name__ == "__main__":
    tap.run(globals())
