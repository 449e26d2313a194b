"""systemd integration without systemd: the frontend takes its agent socket
from socket activation (LISTEN_FDS, LISTEN_FDNAMES) and reports READY=1,
WATCHDOG=1 and STOPPING=1 on $NOTIFY_SOCKET."""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402


def setup():
    st = S.Stack()
    st.__enter__()
    st.kill("frontend")
    return st


def teardown(st):
    if st is not None:
        st.stop()


def notifications(sock, want, timeout=10):
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline and want not in got:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            got.append(sock.recv(4096).decode())
        except socket.timeout:
            break
    return got


def test_activated_frontend(st):
    path = st.agent_sock
    if os.path.exists(path):
        os.unlink(path)
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    os.chmod(path, 0o666)
    lsock.listen(16)
    npath = os.path.join(st.dir, "notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(npath)
    os.chmod(npath, 0o666)
    os.chmod(st.dir, 0o755)
    args = [os.path.join(S.BUILD, "dino-frontend"), "--broker", st.ipc_sock]
    if S.IS_ROOT:
        args += ["--user", S.FRONTEND_USER]
    env = dict(os.environ, LISTEN_FDS="1", LISTEN_FDNAMES="agent",
               NOTIFY_SOCKET=npath, WATCHDOG_USEC="400000")
    # LISTEN_PID must name the frontend itself: a shell sets it, then
    # execs, keeping its pid; the listening socket becomes fd 3.
    fd = lsock.fileno()
    p = subprocess.Popen(
        ["/bin/sh", "-c", 'LISTEN_PID=$$ WATCHDOG_PID=$$ exec "$@" 3<&%d'
         % fd, "sh"] + args, env=env, pass_fds=(fd,),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE)
    st.procs["frontend"] = p
    lsock.close()
    got = notifications(nsock, "READY=1")
    check("READY=1" in got, "READY=1 after start-up")
    s, _, j = st.agent("GET", "/tools/get_balance")
    check(s == 200, "serves agents on the activated socket")
    got = notifications(nsock, "WATCHDOG=1", timeout=5)
    check("WATCHDOG=1" in got, "WATCHDOG=1 pings at half the interval")
    p.send_signal(signal.SIGTERM)
    got = notifications(nsock, "STOPPING=1", timeout=5)
    check("STOPPING=1" in got, "STOPPING=1 on SIGTERM")
    p.wait(timeout=10)
    check(p.returncode == 0, "clean exit after SIGTERM")
    st.procs.pop("frontend", None)
    nsock.close()


def test_no_socket_no_listen(st):
    p = subprocess.run([os.path.join(S.BUILD, "dino-frontend"), "--broker",
                        st.ipc_sock] + (["--user", S.FRONTEND_USER]
                                        if S.IS_ROOT else []),
                       capture_output=True, timeout=20)
    check(p.returncode != 0 and b"no --listen" in p.stderr,
          "without --listen or an activated socket it refuses to start")


if __name__ == "__main__":
    tap.run(globals(), setup, teardown)
