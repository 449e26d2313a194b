"""Durable intents and the audit journal (issue 4), end to end: the whole
stack as real processes, the broker stopped and killed -9 at several
points, a bounded crash loop, tampering found by --verify-journal, and a
full disk.  In every case the sandbox ledger must end with exactly one spend
per intent, and every intent must reach its final status."""
import glob
import hashlib
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

INSTANCE = "test-instance"       # stack.py's instance_id
FINAL = ("approved", "declined", "cancelled", "needs_approval")


def derived_key(agent_key, uid=None):
    """The broker's Idempotency-Key (broker/intent.h), as the ledger has
    it: "dbk_" + BLAKE2b-256 of length-prefixed fields."""
    h = hashlib.blake2b(digest_size=32)
    for s in ("dino-broker idempotency v1", INSTANCE,
              "uid:%d" % (os.geteuid() if uid is None else uid), agent_key):
        b = s.encode()
        h.update(struct.pack(">I", len(b)) + b)
    return "dbk_" + h.hexdigest()


def ledger_counts(st):
    return {e["idempotency_key"]: e["count"]
            for e in st.ledger()["idempotency_counts"]}


def records(st):
    out = []
    for f in sorted(glob.glob(os.path.join(st.journal_dir,
                                           "journal-*.jsonl"))):
        with open(f, "rb") as fh:
            for line in fh:
                if line.endswith(b"\n"):
                    out.append(json.loads(line))
    return out


def journaled(st, agent_key, rtype="intent"):
    key = derived_key(agent_key)
    return any(r["type"] == rtype and r["fields"].get("key") == key
               for r in records(st))


def verify(path):
    p = subprocess.run([os.path.join(S.BUILD, "dino-broker"),
                        "--verify-journal", path],
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.strip()


def wait_until(cond, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return False


def create(st, key, amount=1200, timeout=10):
    return st.agent("POST", "/tools/create_spend",
                    {"amount_cents": amount, "currency": "usd",
                     "merchant_name": "AWS", "reason": "journal",
                     "idempotency_key": key}, timeout=timeout)


def settle(st, key, amount=1200, timeout=30.0):
    """Repeats a create with its key until a final status (an agent's own
    retry after a failure); returns the spend or None."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s, _, j = create(st, key, amount)
            if s == 200 and j.get("status") in FINAL:
                return j
        except OSError:
            pass
        time.sleep(0.1)
    return None


def create_bg(st, key, amount=1200):
    """A create on its own thread, its answer (or failure) ignored: the
    agent that is cut off by the crash."""
    def go():
        try:
            create(st, key, amount)
        except OSError:
            pass
    t = threading.Thread(target=go, daemon=True)
    t.start()
    return t


def one_each(st, keys):
    counts = ledger_counts(st)
    return all(counts.get(derived_key(k)) == 1 for k in keys)


def crash(st, between=None):
    st.restart_broker(between=between, sig=signal.SIGKILL)


def setup():
    st = S.Stack()
    st.__enter__()
    return st


def teardown(st):
    if st is not None:
        st.stop()


def test_clean_stop_replay(st):
    keys = ["clean-a-%f" % time.time(), "clean-b-%f" % time.time()]
    a = settle(st, keys[0], 1200)
    b = settle(st, keys[1], 60000)
    check(a and a["status"] == "approved", "approved before the stop")
    check(b and b["status"] == "needs_approval", "pending before the stop")
    st.restart_broker()
    s, _, j = st.create(1200, "AWS", "journal", key=keys[0])
    check(s == 200 and j["id"] == a["id"] and j["status"] == "approved",
          "after a clean stop: same key, same spend (replayed)")
    s, _, j = st.create(1201, "AWS", "journal", key=keys[0])
    check(s == 409 and j["error"]["code"] == "idempotency_key_conflict",
          "after a clean stop: same key, other body is still a conflict")
    s, _, g = st.agent("GET", "/tools/get_spend/" + b["id"])
    check(s == 200 and g["id"] == b["id"],
          "after a clean stop: get_spend ownership survived")
    check(one_each(st, keys), "ledger: one spend per key")
    kinds = [r["type"] for r in records(st)]
    check("stop" in kinds and kinds.count("start") >= 2 and
          "config_load" in kinds, "start, config_load and stop recorded")


def test_status_change_journaled(st):
    """An operator decision seen through get_spend is a status record, and
    survives a restart."""
    key = "status-%f" % time.time()
    b = settle(st, key, 60000)
    check(b and b["status"] == "needs_approval", "pending spend")
    st.sandbox("POST", "/_sandbox/spends/%s/approve" % b["id"])
    s, _, g = st.agent("GET", "/tools/get_spend/" + b["id"])
    check(s == 200 and g["status"] == "approved", "get_spend sees approved")
    check(wait_until(lambda: any(
        r["type"] == "status" and r["fields"]["id"] == b["id"] and
        r["fields"]["to"] == "approved" for r in records(st))),
        "a status record: needs_approval -> approved")
    crash(st)
    s, _, j = create(st, key, 60000)
    check(s == 200 and j["status"] == "approved",
          "after kill -9 the replayed spend is approved")


def test_rotation_under_seccomp(_st=None):
    """Small segments: the broker rotates (new file, directory sync, head
    rename) while confined by its seccomp filter."""
    st = S.Stack(config_extra="journal_segment_bytes 4096\n")
    st.__enter__()
    try:
        keys = ["rot-%d-%f" % (i, time.time()) for i in range(20)]
        for k in keys:
            settle(st, k)
        segs = glob.glob(os.path.join(st.journal_dir, "journal-*.jsonl"))
        check(len(segs) >= 3, "rotated into %d segments" % len(segs))
        check(st.procs["broker"].poll() is None, "the broker is alive")
        crash(st)
        check(all(settle(st, k) for k in keys) and one_each(st, keys),
              "replay across segments: every spend once")
        st.kill("frontend")
        st.kill("broker")
        rc, out = verify(st.journal_dir)
        check(rc == 0, "the chain verifies across segments: " + out)
    finally:
        st.stop()


def test_big_numbers_replay(_st=None):
    """Budgets beyond a C int, which the broker hands to cJSON ready
    printed: the records hold the plain digits, the chain verifies, and a
    restarted broker answers the same numbers from its replay."""
    st = S.Stack()
    st.seed = S.default_seed(st.key, wallet_cents=10**13,
                             budget_cents=10**12)
    st.__enter__()
    try:
        key = "big-%f" % time.time()
        a = settle(st, key, 1200)
        rem = a and a.get("remaining_budget_cents")
        check(isinstance(rem, int) and rem > 2**31,
              "remaining budget beyond an int: %r" % rem)
        def journaled():
            raw = b"".join(open(f, "rb").read() for f in glob.glob(
                os.path.join(st.journal_dir, "journal-*.jsonl")))
            return b'"remaining_budget_cents":%d,' % (rem or 0) in raw
        # The outcome record follows the answer by a group commit.
        check(wait_until(journaled), "journaled as plain digits")
        st.restart_broker()
        b = settle(st, key, 1200)
        check(b and b["id"] == a["id"] and
              b.get("remaining_budget_cents") == rem,
              "the replayed intent answers the same numbers")
        st.kill("frontend")
        st.kill("broker")
        rc, out = verify(st.journal_dir)
        check(rc == 0, "the chain verifies: " + out)
    finally:
        st.stop()


def test_kill_before_fsync(st):
    """The broker is frozen before it reads the request: the intent never
    reaches the journal.  The agent's retry makes the one spend."""
    key = "pre-%f" % time.time()
    os.kill(st.pid("broker"), signal.SIGSTOP)
    t = create_bg(st, key)
    time.sleep(0.3)
    check(not journaled(st, key), "frozen broker: nothing journaled yet")
    crash(st)
    t.join(5)
    j = settle(st, key)
    check(j and j["status"] == "approved", "before fsync: the retry settles")
    check(one_each(st, [key]), "before fsync: exactly one spend")


def test_kill_after_fsync_before_post(st):
    """Dino fails every attempt (nothing stored), so the durable intent is
    between its fsync and a POST that counts when the broker dies."""
    key = "mid-%f" % time.time()
    st.faults(error_500_pct=100)
    t = create_bg(st, key)
    check(wait_until(lambda: journaled(st, key)), "intent journaled")
    check(derived_key(key) not in ledger_counts(st), "nothing at Dino yet")
    crash(st, between=lambda: st.faults(reset=True))
    check(wait_until(lambda: derived_key(key) in ledger_counts(st)),
          "after restart the broker finished the open intent by itself")
    t.join(5)
    j = settle(st, key)
    check(j and j["status"] == "approved", "after fsync: final status")
    check(one_each(st, [key]), "after fsync: exactly one spend")


def test_kill_after_commit_before_response(st):
    """Dino commits, then the connection drops before an answer, again and
    again; the broker dies while retrying.  The replayed POST (same key)
    gets the stored spend."""
    key = "lost-%f" % time.time()
    st.faults(drop_after_commit_pct=100)
    t = create_bg(st, key)
    check(wait_until(lambda: derived_key(key) in ledger_counts(st)),
          "Dino committed the spend")
    check(not journaled(st, key, "outcome"), "no outcome journaled")
    crash(st, between=lambda: st.faults(reset=True))
    check(wait_until(lambda: journaled(st, key, "outcome")),
          "after restart the outcome is journaled")
    t.join(5)
    j = settle(st, key)
    check(j and j["status"] == "approved", "after commit: final status")
    check(one_each(st, [key]), "after commit: exactly one spend")


def test_kill_with_reply_in_flight(st):
    """Dino committed and holds its answer (latency): kill -9 then."""
    key = "slow-%f" % time.time()
    st.faults(latency_ms=3000)
    t = create_bg(st, key)
    check(wait_until(lambda: derived_key(key) in ledger_counts(st)),
          "committed, answer delayed")
    crash(st, between=lambda: st.faults(reset=True))
    t.join(5)
    j = settle(st, key)
    check(j and j["status"] == "approved", "reply in flight: final status")
    check(one_each(st, [key]), "reply in flight: exactly one spend")


def test_kill_after_outcome(st):
    key = "done-%f" % time.time()
    a = settle(st, key)
    check(wait_until(lambda: journaled(st, key, "outcome")),
          "outcome journaled")
    crash(st)
    s, _, j = st.create(1200, "AWS", "journal", key=key)
    check(s == 200 and j["id"] == a["id"], "after outcome: same spend")
    check(one_each(st, [key]), "after outcome: exactly one spend")


def test_crash_loop(st):
    """4 agents, each a stream of up to 75 creates with its own keys,
    retrying a key until it has a final answer; the broker killed -9 10
    times at random moments meanwhile.  (The principal's 1000 spends a
    minute bound the stream: rate windows survive restarts too.)"""
    keys = []
    lock = threading.Lock()
    stop = threading.Event()
    settled = {}

    def agent(n):
        i = 0
        while not stop.is_set() and i < 75:
            key = "loop-%d-%d-%f" % (n, i, time.time())
            with lock:
                keys.append(key)
            j = settle(st, key, 100 + n, timeout=40)
            with lock:
                settled[key] = j
            if j is None:
                try:
                    print("# unsettled %s: %r" % (key, create(st, key,
                                                               100 + n)))
                except OSError as e:
                    print("# unsettled %s: %r" % (key, e))
            i += 1

    threads = [threading.Thread(target=agent, args=(n,), daemon=True)
               for n in range(4)]
    for t in threads:
        t.start()
    rnd = random.Random(4)
    for _ in range(10):
        time.sleep(rnd.uniform(0.1, 0.5))
        crash(st)
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(60)
    counts = ledger_counts(st)
    dup = [k for k in keys if counts.get(derived_key(k), 0) > 1]
    lost = [k for k in keys if counts.get(derived_key(k), 0) == 0]
    unsettled = [k for k in keys if not settled.get(k)]
    print("# crash loop: %d intents, %d duplicates, %d lost, %d unsettled"
          % (len(keys), len(dup), len(lost), len(unsettled)))
    check(len(keys) >= 100, "crash loop: a few hundred intents (%d)"
          % len(keys))
    check(not dup, "crash loop: zero duplicates")
    check(not lost, "crash loop: zero lost intents")
    check(not unsettled, "crash loop: every intent reached a final status")
    rc, out = verify(st.journal_dir)
    check(rc == 0, "crash loop: the journal verifies: " + out)


def test_tamper_verify(st):
    rc, out = verify(st.journal_dir)
    check(rc == 0 and "OK" in out, "--verify-journal: intact, exit 0")
    copy = os.path.join(st.dir, "tampered")
    shutil.copytree(st.journal_dir, copy)
    seg = sorted(glob.glob(os.path.join(copy, "journal-*.jsonl")))[-1]
    with open(seg, "rb") as f:
        lines = f.readlines()
    rec = json.loads(lines[2])
    lines[2] = lines[2].replace(b'"type":"', b'"type":"X', 1)
    with open(seg, "wb") as f:
        f.writelines(lines)
    rc, out = verify(copy)
    check(rc == 1 and "seq %d:" % rec["seq"] in out and "altered" in out,
          "--verify-journal: an edited record, named by seq: " + out)
    with open(seg, "wb") as f:
        f.writelines(lines[:2] + lines[3:])
    rc, out = verify(copy)
    check(rc == 1 and "removed" in out, "--verify-journal: a removed "
          "record: " + out)


def test_corrupt_journal_refuses_start(st):
    def tamper():
        seg = sorted(glob.glob(os.path.join(st.journal_dir,
                                            "journal-*.jsonl")))[-1]
        with open(seg, "rb") as f:
            lines = f.readlines()
        lines[1] = lines[1].replace(b'"seq":', b'"seq": ', 1)
        with open(seg, "wb") as f:
            f.writelines(lines)
    st.kill("frontend")
    st.kill("broker")
    tamper()
    try:
        # The IPC socket is bound before the journal is opened: the
        # refusal shows as the process exiting.
        st.start_broker()
        started = not wait_until(
            lambda: st.procs["broker"].poll() is not None, 5)
    except RuntimeError:
        started = False
    st.kill("broker")
    log = st.log("broker").decode(errors="replace")
    print("# " + log.strip().splitlines()[-1])
    check(not started and "damaged" in log and "journal-" in log and
          "--recover" in log, "a corrupt journal: the broker refuses to "
          "start, naming segment and seq")
    st.broker_args = ["--recover"]
    try:
        st.start_broker()
        st.start_frontend()
    finally:
        st.broker_args = []
    s, _, j = st.create(1200, "AWS", "journal",
                        key="after-recover-%f" % time.time())
    check(s == 200, "--recover: the broker starts and spends")
    if s != 200:
        print("# %r %r" % (s, j))
    kinds = [r["type"] for r in records(st)]
    check("recovery" in kinds, "--recover: a recovery record")
    check(glob.glob(os.path.join(st.journal_dir, "*.corrupt-*")),
          "--recover: the bad tail moved aside")


def test_disk_full(_st=None):
    if not S.IS_ROOT:
        check(True, "disk-full test needs root for a tmpfs (skipped)")
        return
    mnt = os.path.join("/tmp", "dino-journal-full.%d" % os.getpid())
    os.mkdir(mnt, 0o700)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                       mnt]).returncode != 0:
        os.rmdir(mnt)
        check(True, "cannot mount a tmpfs here (skipped)")
        return
    st = None
    try:
        jdir = os.path.join(mnt, "journal")
        st = S.Stack(journal_dir=jdir)
        st.__enter__()
        a = settle(st, "full-a-%f" % time.time())
        check(a and a["status"] == "approved", "disk not full: spends")
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
        # The segment's last page may still have room for a record or two.
        refused = None
        for i in range(40):
            key = "full-b-%d" % i
            before = ledger_counts(st)
            s, _, j = create(st, key)
            if s == 503:
                refused = key
                break
        check(refused and j["error"]["code"] == "journal_unavailable",
              "disk full: create refused with journal_unavailable")
        check(refused and derived_key(refused) not in ledger_counts(st) and
              len(ledger_counts(st)) == len(before),
              "disk full: nothing sent to Dino")
        s, _, g = st.agent("GET", "/tools/get_spend/" + a["id"])
        check(s == 200 and g["id"] == a["id"], "disk full: get_spend works")
        s, _, _ = st.agent("GET", "/tools/get_balance")
        check(s == 200, "disk full: get_balance works")
        os.unlink(filler)
        j = settle(st, refused or "none", timeout=10)
        check(j and j["status"] == "approved",
              "space freed: spending resumes by itself")
        check(one_each(st, [refused or "none"]), "space freed: one spend")
        st.kill("frontend")
        st.kill("broker")
        rc, out = verify(jdir)
        check(rc == 0, "after disk full the journal verifies: " + out)
    finally:
        if st is not None:
            st.stop()
        subprocess.run(["umount", mnt])
        os.rmdir(mnt)


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
