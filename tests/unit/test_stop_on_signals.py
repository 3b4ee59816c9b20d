"""The long-running commands stop on SIGTERM: the signal handler sets their Stop, and
Python runs that handler in the main thread at whatever point that thread is on,
inside Stop.wait included. A profile hook stands in for the handler: it calls set() at
the k-th event within wait(), for every k, so set() runs at every point of wait(). A
threading.Event deadlocks at some of them (set() waits for the lock that wait() holds,
in the same thread), which is how a worker once never stopped; the control run shows
that this test catches it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, threading
from digest.cli.run import Stop

kind = {"stop": Stop, "event": threading.Event}[sys.argv[1]]
for k in range(1, 500):
    stop = kind()
    seen = 0

    def handler(frame, event, arg):
        global seen
        seen += 1
        if seen == k:
            sys.setprofile(None)
            stop.set()

    sys.setprofile(handler)
    stop.wait(0.01)
    sys.setprofile(None)
    if seen < k:
        break  # wait() has fewer events than k: every point was tried
    assert stop.is_set()
print(f"stopped every time, at {k - 1} points")
"""


def _run(kind: str, timeout: float) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            [sys.executable, "-c", SCRIPT, kind],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return None


def test_set_from_a_handler_at_any_point_of_wait_never_deadlocks() -> None:
    done = _run("stop", timeout=60)
    assert done is not None, "Stop deadlocked"
    assert done.returncode == 0, done.stderr
    assert "stopped every time" in done.stdout
    points = int(done.stdout.split(" at ")[1].split()[0])
    print(f"set() tried at {points} points of wait()")
    assert points >= 3


def test_control_threading_event_deadlocks_there() -> None:
    assert _run("event", timeout=5) is None
