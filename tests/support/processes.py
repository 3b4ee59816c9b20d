"""Other processes as Linux's /proc shows them: children, command lines, peak memory.
Shared by tests that look at worker processes and by the benchmarks that measure them."""

from __future__ import annotations

import os
import time
from pathlib import Path


def children(parent: int | None = None) -> list[int]:
    """The processes whose parent is `parent` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and _stat(int(name))[1:2] == [str(parent)]:
            found.append(int(name))
    return found


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def peak_kb(pid: int) -> int:
    """The process's peak resident memory (VmHWM), its own: unlike a child's rusage,
    which Linux starts from its parent's peak. 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return 0


def wait_gone(pid: int, timeout: float = 10.0) -> None:
    """Until the process has exited (a zombie, or reaped): a signal is not instant."""
    deadline = time.monotonic() + timeout
    while _stat(pid)[:1] not in ([], ["Z"]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running after {timeout:g} s")
        time.sleep(0.01)


def _stat(pid: int) -> list[str]:
    """State, parent and the rest of /proc/<pid>/stat after the command name; [] when
    the process is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text.rsplit(")", 1)[1].split()
