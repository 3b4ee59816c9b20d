"""Progress bars and summaries that behave on a terminal and in logs alike."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

T = TypeVar("T")


def progress(items: Iterable[T], *, length: int | None = None, label: str) -> Iterator[T]:
    """A progress bar on a terminal; plain iteration otherwise."""
    stream = sys.stderr
    if not stream.isatty():
        yield from items
        return
    with click.progressbar(items, length=length, label=label, file=stream, show_pos=True) as bar:
        yield from bar


def summary(text: str, *, ok: bool = True) -> None:
    click.secho(text, fg=None if ok else "red", err=not ok)
