"""Bullets read from council text: the list markers that start a paragraph (1. (a) iv) -
and so on), and one decision or request tidied into a readable sentence. Shared by the
readers of minutes (resolutions.py) and of agendas and reports (asks.py).

Everything here is a pure function of the text.
"""

from __future__ import annotations

import re

# A list marker at the start of a paragraph: 1. 1) 1.1 (1) a. a) (a) i. (i) - • · o ▪ –
MARKER = re.compile(
    r"^\s*(?:\d{1,2}\.\d{1,2}\.?|\(?(?:\d{1,2}|[a-z]|[ivx]{1,5})[.)]"
    r"|\((?:\d{1,2}|[a-z]|[ivx]{1,5})\)|[-•·▪◦●o–*])\s+",
    re.IGNORECASE,
)
LEAD = re.compile(r"^[\s:;,.\-–—]+")
THAT = re.compile(r"^(?:that|to\s+resolve\s+that)\b[\s,:]*", re.IGNORECASE)

_KIND = re.compile(
    r"^\s*(?:(?P<n>\(?\d{1,2}(?:\.\d{1,2})?[.)]?)|(?P<r>\(?[ivx]{2,5}[.)])|(?P<a>\(?[a-z][.)])"
    r"|(?P<b>[-•·▪◦●o–*]))\s+",
    re.IGNORECASE,
)


def marker_kind(item: str) -> str | None:
    """The kind of list marker an item starts with: n(umber), r(oman), a (letter), b(ullet)."""
    match = _KIND.match(item)
    return match.lastgroup if match else None


def strip_marker(block: str) -> str:
    """The block without its leading list marker (1. / (a) / - ...)."""
    return MARKER.sub("", block, count=1)


def tidy(text: str) -> str:
    """One decision as a readable sentence: no list marker, no leading "that", no
    trailing "; and", a capital first letter and a full stop."""
    text = re.sub(r"\s+", " ", text).strip()
    text = strip_marker(text)
    text = LEAD.sub("", text)
    text = THAT.sub("", text)
    text = re.sub(r"(?:;|,)?\s*(?:and|or)\s*$", "", text, flags=re.IGNORECASE)
    text = text.rstrip(" ;,")
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    if text[-1] not in ".:!?\"'’”":
        text += "."
    return text


def dedupe(items: list[str]) -> list[str]:
    """Bullets in order, each once, comparing words only (case and punctuation aside)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = re.sub(r"\W+", " ", item).strip().lower()
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out
