"""The systemd units, checked offline: `systemd-analyze verify` prints nothing on
stderr for any unit, and `systemd-analyze security --offline=true` scores the
frontend at most 0.5 and the broker at most 1.5."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402

LIMITS = {"dino-broker.service": 1.5, "dino-frontend.service": 0.5}


def setup():
    d = tempfile.mkdtemp(prefix="dino-units.")
    for src in glob.glob(os.path.join(S.TOP, "systemd", "*.in")):
        with open(src) as f:
            text = f.read().replace("@sbindir@", S.BUILD)
        with open(os.path.join(d, os.path.basename(src)[:-3]), "w") as f:
            f.write(text)
    # Man pages named in Documentation= are looked up with man(1): point
    # MANPATH at a tree holding the repository's pages.
    man = os.path.join(d, "man")
    for page in glob.glob(os.path.join(S.TOP, "*", "*.[158]")) + \
            glob.glob(os.path.join(S.TOP, "docs", "*.[158]")):
        sect = os.path.join(man, "man" + page[-1])
        os.makedirs(sect, exist_ok=True)
        shutil.copy(page, sect)
    return d


def teardown(d):
    shutil.rmtree(d, ignore_errors=True)


def units(d):
    return sorted(os.path.basename(p) for p in
                  glob.glob(os.path.join(d, "*.service")) +
                  glob.glob(os.path.join(d, "*.socket")))


def test_units_present(d):
    names = units(d)
    for u in ("dino-broker.service", "dino-frontend.service",
              "dino-frontend.socket", "dino-broker-ipc.socket"):
        check(u in names, "unit exists: " + u)


def test_verify(d):
    env = dict(os.environ, MANPATH=os.path.join(d, "man"))
    for u in units(d):
        p = subprocess.run(["systemd-analyze", "verify", u], cwd=d, env=env,
                           capture_output=True, text=True, timeout=60)
        check(p.returncode == 0 and p.stderr.strip() == "",
              "systemd-analyze verify %s is silent" % u)
        if p.stderr.strip():
            print("# " + p.stderr.strip().replace("\n", "\n# "))


def test_security_scores(d):
    for u, limit in LIMITS.items():
        p = subprocess.run(["systemd-analyze", "security", "--offline=true",
                            u], cwd=d, capture_output=True, text=True,
                           timeout=60)
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)",
                      p.stdout + p.stderr)
        score = float(m.group(1)) if m else 99.0
        print("# %s exposure %.1f (limit %.1f)" % (u, score, limit))
        check(score <= limit, "%s exposure %.1f <= %.1f" % (u, score, limit))


def test_frontend_unit_has_no_credentials(d):
    with open(os.path.join(d, "dino-frontend.service")) as f:
        text = f.read()
    check("LoadCredential" not in text, "frontend unit gets no credentials")
    check("PrivateNetwork=yes" in text, "frontend unit has no network")
    check("RestrictAddressFamilies=AF_UNIX\n" in text, "frontend: AF_UNIX only")


def test_units_point_at_binaries(d):
    for u in ("dino-broker.service", "dino-frontend.service"):
        with open(os.path.join(d, u)) as f:
            for line in f:
                if line.startswith(("ExecStart=", "ExecStartPre=")):
                    exe = line.split("=", 1)[1].split()[0]
                    check(os.access(exe, os.X_OK), "%s runs %s" % (u, exe))


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
