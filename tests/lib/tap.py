"""A tiny TAP runner for the integration tests (standard library only).

Each test is a function named test_*; it runs in file order and prints
"ok - name" or "not ok - name" with the failure as comment lines.  check()
records one assertion without stopping the test.
"""
import os
import sys
import traceback

_failed = 0


def check(cond, name):
    global _failed
    if cond:
        print("ok - %s" % name, flush=True)
    else:
        _failed += 1
        print("not ok - %s" % name, flush=True)
    return cond


def run(module_globals, setup=None, teardown=None):
    global _failed
    tests = [(n, f) for n, f in module_globals.items()
             if n.startswith("test_") and callable(f)]
    tests.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
    only = os.environ.get("DINO_TEST_ONLY")
    ctx = None
    try:
        if setup:
            ctx = setup()
        for name, fn in tests:
            if only and only not in name:
                continue
            try:
                fn(ctx) if ctx is not None else fn()
                print("ok - %s" % name, flush=True)
            except Exception:
                _failed += 1
                print("not ok - %s" % name, flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
    finally:
        if teardown:
            teardown(ctx)
    sys.exit(1 if _failed else 0)
