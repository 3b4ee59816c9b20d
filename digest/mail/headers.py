"""Making untrusted text (council names, meeting titles) safe to put in a mail header.

CPython before 3.11.10 re-serialises an RFC 2047 encoded word containing `=0A` as a bare
line feed (CVE-2024-6923), which lets a scraped title inject headers. We never rely on the
runtime: control and separator characters become spaces and encoded-word syntax is broken
up before any value is assigned to a header.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r" {2,}")


def header_text(value: str, max_length: int = 200) -> str:
    """One safe header line: no control characters, no encoded words, bounded length."""
    text = unicodedata.normalize("NFC", value or "")
    text = "".join(" " if unicodedata.category(ch)[0] in ("C", "Z") else ch for ch in text)
    text = _SPACES.sub(" ", text).strip()
    text = text.replace("=?", "= ?").replace("?=", "? =")
    if len(text) > max_length:
        text = text[: max_length - 1].rstrip() + "…"
    return text
