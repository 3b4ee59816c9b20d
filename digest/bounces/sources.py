"""Where returned messages come from: single files, mbox files, Maildir folders, stdin."""

from __future__ import annotations

import mailbox
import sys
from collections.abc import Iterator
from pathlib import Path


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def read(path: str) -> Iterator[tuple[str, bytes]]:
    """(label, raw bytes) for every message at `path`; "-" reads one message from stdin."""
    if path == "-":
        yield "stdin", sys.stdin.buffer.read()
        return
    where = Path(path)
    if is_maildir(where):
        box = mailbox.Maildir(str(where), factory=None, create=False)
        for key in sorted(box.keys()):
            yield f"{path}/{key}", box.get_bytes(key)
        return
    if where.is_dir():
        raise OSError(f"{path} is a folder but not a Maildir (no cur/ and new/)")
    with where.open("rb") as fh:
        head = fh.read(5)
    if head == b"From ":
        mbox = mailbox.mbox(str(where), create=False)
        try:
            for n, key in enumerate(mbox.keys(), start=1):
                yield f"{path}#{n}", mbox.get_bytes(key)
        finally:
            mbox.close()
        return
    yield path, where.read_bytes()
