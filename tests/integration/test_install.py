"""make install into a DESTDIR: the tree, the modes, units that point at the
installed binaries, and an example configuration that `dino-broker -n`
accepts."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

PREFIX = "/usr/local"


def setup():
    d = tempfile.mkdtemp(prefix="dino-install.")
    p = subprocess.run(["make", "-C", S.TOP, "--no-print-directory",
                        "install-files", "DESTDIR=" + d, "B=" + S.BUILD,
                        "PREFIX=" + PREFIX], capture_output=True, text=True,
                       timeout=120)
    if p.returncode != 0:
        raise RuntimeError("make install-files failed: " + p.stderr[-2000:])
    return d


def teardown(d):
    shutil.rmtree(d, ignore_errors=True)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_binaries(d):
    for rel in ("sbin/dino-broker", "sbin/dino-frontend", "bin/dino",
                "bin/dino-sandbox"):
        path = d + PREFIX + "/" + rel
        check(os.path.isfile(path) and mode(path) == 0o755,
              "installed 0755: " + rel)


def test_man_pages(d):
    for rel in ("man1/dino.1", "man1/dino-sandbox.1", "man5/dino-broker.conf.5",
                "man8/dino-broker.8", "man8/dino-frontend.8"):
        path = d + PREFIX + "/share/man/" + rel
        check(os.path.isfile(path) and mode(path) == 0o644,
              "man page 0644: " + rel)
        if os.path.isfile(path):
            p = subprocess.run(["man", "--warnings", "-l", path],
                               capture_output=True, text=True, timeout=60,
                               env=dict(os.environ, MANWIDTH="80"))
            check(p.returncode == 0 and "warning" not in p.stderr,
                  "renders without warnings: " + rel)


def test_units(d):
    unitdir = d + PREFIX + "/lib/systemd/system"
    for u in ("dino-broker.service", "dino-frontend.service",
              "dino-frontend.socket", "dino-broker-ipc.socket"):
        path = os.path.join(unitdir, u)
        check(os.path.isfile(path) and mode(path) == 0o644, "unit: " + u)
        if not u.endswith(".service") or not os.path.isfile(path):
            continue
        with open(path) as f:
            for line in f:
                if line.startswith(("ExecStart=", "ExecStartPre=")):
                    exe = line.split("=", 1)[1].split()[0]
                    check(exe.startswith(PREFIX + "/sbin/") and
                          os.access(d + exe, os.X_OK),
                          "%s runs the installed %s" % (u, exe))
                check("@sbindir@" not in line, u + ": no placeholder left")
    for rel in ("lib/sysusers.d/dino-broker.conf",
                "lib/tmpfiles.d/dino-broker.conf"):
        check(os.path.isfile(d + PREFIX + "/" + rel), "installed " + rel)


def test_config_dir(d):
    conf = d + "/etc/dino-broker"
    check(mode(conf + "/keys") == 0o700, "/etc/dino-broker/keys is 0700")
    check(os.path.isfile(conf + "/dino-broker.conf.example"),
          "example configuration installed")


def test_example_config_parses(d):
    if not S.IS_ROOT:
        check(True, "needs root for the service users (skipped)")
        return
    S.ensure_user(S.BROKER_USER)
    S.ensure_user(S.FRONTEND_USER)
    for g in ("dino-agents", "dino-admin"):
        subprocess.run(["groupadd", "-f", "--system", g], check=True)
    creds = tempfile.mkdtemp(prefix="dino-creds.")
    for name, value in (("dino-default.key", "din_test_example"),
                        ("dino-webhook.secret", "whsec_example")):
        fd = os.open(os.path.join(creds, name), os.O_WRONLY | os.O_CREAT,
                     0o600)
        os.write(fd, value.encode() + b"\n")
        os.close(fd)
    p = subprocess.run([d + PREFIX + "/sbin/dino-broker", "-n", "-f",
                        d + "/etc/dino-broker/dino-broker.conf.example"],
                       capture_output=True, text=True, timeout=30,
                       env=dict(os.environ, CREDENTIALS_DIRECTORY=creds))
    shutil.rmtree(creds, ignore_errors=True)
    check(p.returncode == 0 and "configuration OK" in p.stdout,
          "dino-broker -n accepts the example configuration")
    if p.returncode != 0:
        print("# " + (p.stdout + p.stderr).replace("\n", "\n# "))


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
