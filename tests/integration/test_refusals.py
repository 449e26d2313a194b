"""Both daemons refuse an unsafe setup with a message that says which file or
directory and why: a config others may write, a key file others may read, a
socket directory others may write."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402


def setup():
    d = tempfile.mkdtemp(prefix="dino-refusals.")
    os.chmod(d, 0o755)
    return d


def teardown(d):
    shutil.rmtree(d, ignore_errors=True)


def write(path, text, mode):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def config(d, sockdir, keyfile):
    return ("instance_id t\ndino_url http://127.0.0.1:9\n"
            "allow_http_loopback yes\nipc_socket %s/ipc.sock\n"
            "journal_dir %s/journal\n"
            "account default {\n    key_file %s\n}\n"
            "principal uid 0 {\n    account default\n}\n"
            % (sockdir, d, keyfile))


def broker(args):
    return subprocess.run([os.path.join(S.BUILD, "dino-broker")] + args,
                          capture_output=True, text=True, timeout=30)


def test_world_writable_config(d):
    key = os.path.join(d, "k")
    write(key, "din_test_x\n", 0o600)
    conf = os.path.join(d, "ww.conf")
    write(conf, config(d, d, key), 0o666)
    p = broker(["-n", "-f", conf])
    check(p.returncode != 0 and "writable by others" in p.stderr and
          conf in p.stderr, "a world-writable config is refused, named")
    os.chmod(conf, 0o620)
    p = broker(["-n", "-f", conf])
    check(p.returncode != 0 and "writable by its group" in p.stderr,
          "a group-writable config is refused")
    os.chmod(conf, 0o600)
    p = broker(["-n", "-f", conf])
    check(p.returncode == 0 and "configuration OK" in p.stdout,
          "the same config with mode 0600 is accepted")


def test_readable_key_file(d):
    key = os.path.join(d, "open.key")
    write(key, "din_test_CANARYx\n", 0o644)
    conf = os.path.join(d, "k.conf")
    write(conf, config(d, d, key), 0o600)
    p = broker(["-n", "-f", conf])
    check(p.returncode != 0 and key in p.stderr and "chmod 600" in p.stderr,
          "a key file others may read is refused, named, with the fix")
    check("CANARY" not in p.stdout + p.stderr, "the key is not echoed")


def test_world_writable_socket_dir(d):
    ww = os.path.join(d, "ww")
    os.mkdir(ww)
    os.chmod(ww, 0o1777)
    key = os.path.join(d, "k2")
    write(key, "din_test_x\n", 0o600)
    if S.IS_ROOT:
        os.chown(key, S.pwd.getpwnam(S.BROKER_USER).pw_uid, -1)
    conf = os.path.join(d, "s.conf")
    cfg = config(d, ww, key)
    if S.IS_ROOT:
        cfg += "user %s\n" % S.BROKER_USER
    write(conf, cfg, 0o600)
    p = broker(["-f", conf])
    check(p.returncode != 0 and "world-writable" in p.stderr and
          ww in p.stderr, "broker: a world-writable socket directory is "
          "refused, named")
    args = [os.path.join(S.BUILD, "dino-frontend"), "--listen",
            "unix:" + os.path.join(ww, "agent.sock"), "--broker",
            os.path.join(d, "none.sock")]
    if S.IS_ROOT:
        args += ["--user", S.FRONTEND_USER]
    p = subprocess.run(args, capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "world-writable" in p.stderr and
          ww in p.stderr, "frontend: a world-writable socket directory is "
          "refused, named")


def test_broker_never_runs_as_root(d):
    key = os.path.join(d, "k3")
    write(key, "din_test_x\n", 0o600)
    conf = os.path.join(d, "r.conf")
    write(conf, "user root\n" + config(d, d, key), 0o600)
    p = broker(["-n", "-f", conf])
    check(p.returncode != 0 and "will not run as root" in p.stderr,
          "`user root` is refused with the reason")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
