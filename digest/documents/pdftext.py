"""Text from a PDF, page by page, safely.

PDFs come from council websites: we never trust them. Before a parser sees a byte, the
file must start like a PDF and end with `%%EOF` (a cut-off download is reported, not half
read). Parsing itself happens in a child process (this file, run as a script)
with a CPU-time and memory limit and a wall-clock timeout, so a hostile or pathological
file costs a few seconds of one worker, never the worker. pypdfium2 (PDFium, Chrome's PDF
engine) reads the text; README's design decisions say why.

Every failure is a `PdfProblem` whose message is one line for the document's `problem`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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
    memory_limit: int = MEMORY_LIMIT_BYTES,
) -> PdfText:
    """`extract` in a child process with resource limits. Raises PdfProblem."""
    check_bytes(data)
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}

    # The child sets its own limits first thing (no preexec_fn: workers have threads).
    # Run as a script, not `-m digest...`: importing the package (Flask, SQLAlchemy) would
    # cost the child more than most PDFs take to read. -I: no user site, no environment.
    command = [
        sys.executable,
        "-I",
        str(Path(__file__).resolve()),
        str(max_pages),
        str(memory_limit),
        str(int(timeout) + 1),
    ]
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            command, input=data, capture_output=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise PdfProblem(f"reading the PDF took longer than {timeout:g} seconds; gave up") from exc
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        last = reason[-1] if reason else f"exit status {done.returncode}"
        raise PdfProblem(f"the PDF could not be read ({_first_line(last)[:150]})")
    answer = json.loads(done.stdout)
    if "problem" in answer:
        raise PdfProblem(answer["problem"])
    return PdfText(list(answer["pages"]), int(answer["image_pages"]))


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or [""])[0]


def _main() -> None:
    import resource

    max_pages, memory_limit, cpu_seconds = (int(a) for a in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    data = sys.stdin.buffer.read()
    try:
        result = extract(data, max_pages=max_pages)
        answer: dict[str, object] = {"pages": result.pages, "image_pages": result.image_pages}
    except PdfProblem as exc:
        answer = {"problem": str(exc)}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _main()
