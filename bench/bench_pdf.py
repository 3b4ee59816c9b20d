"""PDF text extraction: pages per second against poppler's `pdftotext` on the same files
in the same run (ratio ≥ 0.5), and the peak memory of reading a 300-page reports pack
(≤ 200 MB). Also measures the libraries we chose between (pdfminer.six, pypdf, pypdfium2
in-process) for README's design decisions, with a text check: the share of phrases from
the minutes each one gives back whole.

The files are the LibreOffice-made minutes in tests/fixtures/pdf/ and a reports pack of
300 pages assembled from them with pypdf.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digest.documents import layout, pdftext
from tests.support.processes import peak_kb

PDFS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pdf"
SOURCES = ("printed_minutes_cabinet.pdf", "decision_notice_executive.pdf")
PACK_PAGES = 300
MIN_RATIO = 0.5
MAX_PEAK_MB = 200.0
PHRASES = (
    "notes the forecast overspend of £4.2m on the General Fund for 2026/27",
    "approves the budget variations as at quarter 2 as set out in Appendix A",
    "RESOLVED: That the proposed approach to Consultation and Options appraisal",
    "Apologies were received from Councillors Lisa Spivey and Tony Dale",
    "welcomes the Council's commitment to support independent living",
    "Housing Revenue Account Business Plan",
)


def _pack(pages: int, into: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    readers = [PdfReader(PDFS / name) for name in SOURCES]
    while len(writer.pages) < pages:
        for reader in readers:
            for page in reader.pages:
                if len(writer.pages) < pages:
                    writer.add_page(page)
    path = into / "reports_pack_300.pdf"
    with path.open("wb") as out:
        writer.write(out)
    return path


def _pdfium(data: bytes) -> list[str]:
    return pdftext.extract(data).pages


def _pdfium_isolated(data: bytes) -> list[str]:
    return pdftext.extract_isolated(data).pages


def _pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return [
        "".join(el.get_text() for el in page if isinstance(el, LTTextContainer))
        for page in extract_pages(io.BytesIO(data))
    ]


def _pypdf(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _pdftotext(data: bytes) -> list[str]:
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    )
    return done.stdout.decode().split("\f")[:-1]


def _rate(extract: Callable[[bytes], list[str]], files: list[bytes], rounds: int) -> float:
    pages = 0
    started = time.perf_counter()
    for _ in range(rounds):
        for data in files:
            pages += len(extract(data))
    return pages / (time.perf_counter() - started)


def _phrases_found(extract: Callable[[bytes], list[str]]) -> float:
    text = ""
    for name in SOURCES:
        text += layout.clean_pages(extract((PDFS / name).read_bytes())) + "\n"
    flat = re.sub(r"\s+", " ", text)
    return sum(1 for p in PHRASES if p in flat) / len(PHRASES)


def _peak_mb(pack: Path) -> float:
    """Peak resident memory (VmHWM) of a reading child (pdftext.Reader's) that has read
    the pack, as production runs it. Read from /proc while the child waits for its next
    PDF: its rusage would count this process's memory too, which Linux carries across
    fork and exec into a child's ru_maxrss."""
    reader = pdftext.Reader()
    try:
        reader.read(pack.read_bytes(), max_pages=2000, timeout=120)
        kb = peak_kb(reader.pid or 0)
    finally:
        reader.close()
    return kb / 1024


def run(quick: bool = False) -> dict[str, Any]:
    if not shutil.which("pdftotext"):
        return {"skipped": "pdftotext (Debian poppler-utils) is not installed", "pass": False}
    rounds = 1 if quick else 3
    with tempfile.TemporaryDirectory() as tmp:
        pack = _pack(PACK_PAGES, Path(tmp))
        files = [pack.read_bytes(), *((PDFS / name).read_bytes() for name in SOURCES)]
        libraries: dict[str, Callable[[bytes], list[str]]] = {
            "pdftotext (poppler, reference)": _pdftotext,
            "pypdfium2 (in-process)": _pdfium,
            "pypdfium2 (child process, as used)": _pdfium_isolated,
            "pypdf": _pypdf,
            "pdfminer.six": _pdfminer,
        }
        measured: dict[str, dict[str, float]] = {}
        for name, extract in libraries.items():
            slow = name in ("pypdf", "pdfminer.six")
            measured[name] = {
                "pages_per_second": round(_rate(extract, files, 1 if slow else rounds), 1),
                "minutes_phrases_found": round(_phrases_found(extract), 2),
            }
        peak = _peak_mb(pack)
    reference = measured["pdftotext (poppler, reference)"]["pages_per_second"]
    ours = measured["pypdfium2 (child process, as used)"]["pages_per_second"]
    ratio = ours / reference
    return {
        "pages": PACK_PAGES + 4,
        "libraries": measured,
        "ratio_to_pdftotext": round(ratio, 2),
        "min_ratio": MIN_RATIO,
        "peak_mb_300_page_pack": round(peak, 1),
        "max_peak_mb": MAX_PEAK_MB,
        "pass": ratio >= MIN_RATIO and peak <= MAX_PEAK_MB,
    }
