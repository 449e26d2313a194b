"""Confinement of both daemons, read from the kernel: seccomp mode, no_new_privs,
uids and capabilities from /proc; a forbidden syscall kills the frontend; the
broker keeps serving after the frontend dies and comes back."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402


def setup():
    st = S.Stack()
    st.__enter__()
    return st


def teardown(st):
    if st is not None:
        st.stop()


def test_frontend_confined(st):
    s = S.proc_status(st.pid("frontend"))
    check(s["Seccomp"] == "2", "frontend: seccomp filter mode")
    check(s["NoNewPrivs"] == "1", "frontend: no_new_privs")
    check(int(s["CapEff"], 16) == 0, "frontend: no effective capabilities")
    if S.IS_ROOT:
        uids = [int(x) for x in s["Uid"].split()]
        check(all(u != 0 for u in uids), "frontend: no uid is root")
        check(uids[0] == S.pwd.getpwnam(S.FRONTEND_USER).pw_uid,
              "frontend: runs as dino-frontend")
        gids = [int(x) for x in s["Gid"].split()]
        check(all(g != 0 for g in gids), "frontend: no gid is root")
        check(s["Groups"] == "" or "0" not in s["Groups"].split(),
              "frontend: no supplementary root group")


def test_broker_confined(st):
    s = S.proc_status(st.pid("broker"))
    check(s["Seccomp"] == "2", "broker: seccomp filter mode")
    check(s["NoNewPrivs"] == "1", "broker: no_new_privs")
    check(int(s["CapEff"], 16) == 0, "broker: no effective capabilities")
    if S.IS_ROOT:
        uids = [int(x) for x in s["Uid"].split()]
        check(uids[0] == S.pwd.getpwnam(S.BROKER_USER).pw_uid and
              all(u != 0 for u in uids), "broker: runs as dino-broker")


def test_frontend_rlimits(st):
    with open("/proc/%d/limits" % st.pid("frontend")) as f:
        lim = f.read()
    nproc = [l for l in lim.splitlines() if l.startswith("Max processes")][0]
    fsize = [l for l in lim.splitlines() if l.startswith("Max file size")][0]
    check(nproc.split()[2] == "0", "frontend: RLIMIT_NPROC 0")
    check(fsize.split()[3] == "0", "frontend: RLIMIT_FSIZE 0")


def forbidden(call):
    """Starts a frontend that makes one forbidden call right after it is
    confined; returns how it ended."""
    d = tempfile.mkdtemp(prefix="dino-seccomp.")
    os.chmod(d, 0o755)
    # A listening SEQPACKET socket stands in for the broker: the frontend
    # connects before it confines itself.
    broker = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    broker.bind(os.path.join(d, "ipc.sock"))
    os.chmod(os.path.join(d, "ipc.sock"), 0o666)
    broker.listen(4)
    args = [os.path.join(S.BUILD, "dino-frontend"),
            "--listen", "unix:" + os.path.join(d, "a.sock"),
            "--broker", os.path.join(d, "ipc.sock"),
            "--self-test-seccomp=" + call]
    if S.IS_ROOT:
        args += ["--user", S.FRONTEND_USER]
    p = subprocess.run(args, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=20)
    broker.close()
    shutil.rmtree(d, ignore_errors=True)
    return p.returncode


def test_forbidden_syscalls_kill(st):
    # A -DDINO_SANITIZE build lets open through, for the sanitizer's
    # report (frontend/sandbox.c); every other build must kill on it.
    sanitized = os.path.basename(os.path.normpath(S.BUILD)) == "san"
    for call in ("open", "socket", "connect", "execve", "ptrace"):
        if call == "open" and sanitized:
            continue
        rc = forbidden(call)
        check(rc == -signal.SIGSYS, "frontend killed by SIGSYS on " + call)


def test_broker_forbidden_syscalls_kill(st):
    # A second broker on the same configuration, with its own IPC socket
    # and journal, confines itself and then makes one forbidden call.
    for call in ("execve", "ptrace"):
        d = tempfile.mkdtemp(prefix="dino-seccomp-broker.")
        os.chmod(d, 0o755)
        jdir = os.path.join(d, "journal")
        os.mkdir(jdir, 0o700)
        with open(st.config) as f:
            conf = f.read()
        conf = conf.replace(st.ipc_sock, os.path.join(d, "ipc.sock"))
        conf = conf.replace(st.journal_dir, jdir)
        conf = "\n".join(l for l in conf.splitlines()
                         if not l.startswith(("webhook_", "admin_",
                                              "metrics_listen")))
        path = os.path.join(d, "broker.conf")
        with open(path, "w") as f:
            f.write(conf)
        if S.IS_ROOT:
            os.chown(jdir, S.pwd.getpwnam(S.BROKER_USER).pw_uid, -1)
        p = subprocess.run([os.path.join(S.BUILD, "dino-broker"), "-f", path,
                            "--self-test-seccomp=" + call],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30)
        check(p.returncode == -signal.SIGSYS,
              "broker killed by SIGSYS on " + call)
        if p.returncode != -signal.SIGSYS:
            print("# " + p.stderr.decode(errors="replace")[-800:]
                  .replace("\n", "\n# "))
        shutil.rmtree(d, ignore_errors=True)


def test_restart_frontend(st):
    st.kill("frontend", signal.SIGKILL)
    st.start_frontend()
    s, _, j = st.agent("GET", "/tools/get_balance")
    check(s == 200, "broker serves a frontend started after a SIGKILL")
    check(st.procs["broker"].poll() is None, "broker still running")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
