"""Text from a PDF, page by page, safely.

PDFs come from council websites: we never trust them. Before a parser sees a byte, the
file must start like a PDF and end with `%%EOF` (a cut-off download is reported, not half
read). Parsing itself happens in a child process (this file, run as a script, reading
one PDF after another: `Reader`) with a CPU-time and memory limit and a wall-clock
timeout, so a hostile or pathological file costs a few seconds of one worker, never the
worker. pypdfium2 (PDFium, Chrome's PDF
engine) reads the text; README's design decisions say why.

Every failure is a `PdfProblem` whose message is one line for the document's `problem`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

MAX_PAGES = 1500
TIMEOUT_SECONDS = 60.0
MEMORY_LIMIT_BYTES = 1024 * 1024 * 1024
# A page with fewer characters than this is taken to be an image (a scan).
MIN_TEXT_CHARS = 20


class PdfProblem(Exception):
    """The file cannot be read as text; str() is the one-line reason."""


@dataclass(frozen=True)
class PdfText:
    pages: list[str]
    image_pages: int  # pages with (next to) no text layer: scans

    @property
    def text(self) -> str:
        return "\n\f".join(self.pages)


def check_bytes(data: bytes, content_type: str = "") -> None:
    """Refuse what is plainly not a whole PDF before parsing anything."""
    head = data[:1024].lstrip()
    if not data.strip():
        raise PdfProblem("the address answered with an empty file, not a PDF")
    if not head.startswith(b"%PDF-"):
        lowered = head.lower()
        if b"<html" in lowered or b"<!doctype" in lowered or "html" in content_type.lower():
            raise PdfProblem("not a PDF: the address answered with a web page (HTML)")
        raise PdfProblem("not a PDF: the file does not start like one")
    if b"%%EOF" not in data[-2048:]:
        raise PdfProblem("truncated PDF: the file ends before its end marker (cut-off download?)")


def extract(data: bytes, *, max_pages: int = MAX_PAGES) -> PdfText:
    """Parse in this process (the child calls this; benchmarks may too)."""
    import pypdfium2 as pdfium  # heavy import, needed only here

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        message = str(exc).lower()
        if "password" in message:
            raise PdfProblem("encrypted PDF: it needs a password to open") from exc
        raise PdfProblem(f"damaged PDF: {_first_line(str(exc))}") from exc
    try:
        count = len(pdf)
        if count == 0:
            raise PdfProblem("the PDF has no pages")
        if count > max_pages:
            raise PdfProblem(f"the PDF has {count:,} pages, more than the {max_pages:,} we read")
        pages: list[str] = []
        image_pages = 0
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                try:
                    text = textpage.get_text_bounded()
                finally:
                    textpage.close()
            finally:
                page.close()
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            if len(text.strip()) < MIN_TEXT_CHARS:
                image_pages += 1
            pages.append(text)
    finally:
        pdf.close()
    if image_pages == len(pages):
        raise PdfProblem("no text layer: a scanned image; we cannot read it")
    return PdfText(pages, image_pages)


def extract_isolated(
    data: bytes,
    *,
    max_pages: int = MAX_PAGES,
    timeout: float = TIMEOUT_SECONDS,
) -> PdfText:
    """`extract` in this process's reading child (`Reader`), under its limits. Raises
    PdfProblem."""
    check_bytes(data)
    with _shared_lock:
        global _shared
        if _shared is None:
            _shared = Reader()
        return _shared.read(data, max_pages=max_pages, timeout=timeout)


class Reader:
    """A child process that reads PDFs one after another, each under limits.

    Starting a child per PDF cost about 100 ms here (the interpreter, then PDFium), more
    than reading a 20-page set of minutes takes; one child for many PDFs pays it once.
    Its address space is capped for its whole life (`memory_limit`); before each PDF it
    allows itself `timeout` more seconds of CPU, and the parent kills it when an answer
    takes longer than `timeout`. A child that dies or is killed is replaced for the next
    PDF, and each is replaced after `MAX_DOCUMENTS` anyway, so whatever one hostile file
    did to it does not outlive a bounded number of others. Not thread-safe: one PDF at a
    time (`extract_isolated` holds a lock)."""

    def __init__(self, memory_limit: int = MEMORY_LIMIT_BYTES) -> None:
        self._memory_limit = memory_limit
        self._child: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._read = 0  # PDFs the current child has read

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def read(self, data: bytes, *, max_pages: int = MAX_PAGES, timeout: float) -> PdfText:
        child = self._running()
        assert child.stdin is not None
        assert child.stdout is not None
        request = struct.pack(">IIQ", max_pages, int(timeout) + 1, len(data))
        try:
            child.stdin.write(request + data)
            child.stdin.flush()
            answer = _read_answer(child.stdout, time.monotonic() + timeout)
        except TimeoutError as exc:  # before OSError, of which it is one
            self.close()
            raise PdfProblem(
                f"reading the PDF took longer than {timeout:g} seconds; gave up"
            ) from exc
        except (OSError, EOFError) as exc:
            last = self._last_error_line()
            self.close()
            raise PdfProblem(f"the PDF could not be read ({_first_line(last)[:150]})") from exc
        self._read += 1
        if self._read >= MAX_DOCUMENTS:
            self.close()
        if "problem" in answer:
            raise PdfProblem(str(answer["problem"]))
        return PdfText(list(answer["pages"]), int(answer["image_pages"]))

    def close(self) -> None:
        child, self._child, self._read = self._child, None, 0
        if child is not None:
            child.kill()
            child.wait()
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _running(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        self.close()  # died between PDFs: not the next one's fault
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
        # Lives as long as the child (closed by `close`): the child's last words.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        # The child sets its own limits first thing (no preexec_fn: workers have threads).
        # Run as a script, not `-m digest...`: importing the package (Flask, SQLAlchemy)
        # would cost the child more than most PDFs take to read. -I: no user site, no
        # environment.
        self._child = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-I", str(Path(__file__).resolve()), str(self._memory_limit)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        return self._child

    def _last_error_line(self) -> str:
        if self._child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._child.wait(timeout=1)
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        if lines:
            return lines[-1]
        code = self._child.returncode if self._child is not None else None
        return f"exit status {code}" if code is not None else "the reader stopped"


def release() -> None:
    """Stop this process's reading child, if any (the next PDF starts another): called
    when a run of extraction jobs ends, so an idle worker keeps no child."""
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None


# PDFs a child reads before it is replaced.
MAX_DOCUMENTS = 200
_shared: Reader | None = None
_shared_lock = threading.Lock()
atexit.register(release)


def _read_answer(stdout: IO[bytes], deadline: float) -> dict[str, Any]:
    size = struct.unpack(">Q", _read_exactly(stdout, 8, deadline))[0]
    answer: dict[str, Any] = json.loads(_read_exactly(stdout, size, deadline))
    return answer


def _read_exactly(stream: IO[bytes], size: int, deadline: float) -> bytes:
    """`size` bytes from the child's pipe, waiting at most until `deadline`."""
    fd = stream.fileno()
    chunks: list[bytes] = []
    wanted = size
    while wanted:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(wanted, 1 << 20))
        if not chunk:
            raise EOFError("the reader stopped")
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _main() -> None:
    """The child: read requests from stdin until it closes, answer each on stdout."""
    import resource

    memory_limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = stdin.read(16)
        if len(head) < 16:
            return  # the parent closed the pipe (or died)
        max_pages, cpu_seconds, size = struct.unpack(">IIQ", head)
        data = stdin.read(size)
        # Only the soft limit: SIGXCPU ends the child; the next PDF gets its own.
        used = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(used.ru_utime + used.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        try:
            result = extract(data, max_pages=max_pages)
            answer: dict[str, object] = {"pages": result.pages, "image_pages": result.image_pages}
        except PdfProblem as exc:
            answer = {"problem": str(exc)}
        body = json.dumps(answer).encode()
        stdout.write(struct.pack(">Q", len(body)) + body)
        stdout.flush()


if __name__ == "__main__":
    _main()
