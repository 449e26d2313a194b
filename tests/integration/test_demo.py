"""make demo end to end: every step of the newcomer's story behaves as told."""
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import tap                                       # noqa: E402
from tap import check                            # noqa: E402
import stack as S                                # noqa: E402


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_demo():
    build = os.path.relpath(S.BUILD, S.TOP)
    env = dict(os.environ, DINO_DEMO_PORT=str(free_port()))
    p = subprocess.run([os.path.join(S.TOP, "tests/lib/demo.sh"), build],
                       cwd=S.TOP, env=env, capture_output=True, text=True,
                       timeout=180)
    for line in p.stdout.splitlines():
        if line.startswith(("==", "   ok", "   FAILED", "demo:")):
            print("# " + line)
    check(p.returncode == 0, "make demo exits 0")
    check("every step behaved as told" in p.stdout, "demo says so")
    check("FAILED" not in p.stdout, "no step failed")


if __name__ == "__main__":
    tap.run(globals())
