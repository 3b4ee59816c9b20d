"""Short plain-text descriptions from council text."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(“\"'])")


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a sentence or word boundary with an ellipsis."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    sentences = [m.start() for m in _SENTENCE_END.finditer(cut)]
    if sentences and sentences[-1] > limit // 2:
        return cut[: sentences[-1]].rstrip()
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-–") + "…"


def first_paragraph(text: str) -> str:
    for block in re.split(r"\n\s*\n", text or ""):
        if block.strip():
            return block.strip()
    return ""


def description(agenda_text: str, title: str, limit: int) -> str:
    """The first paragraph of an item's agenda text, unless it only repeats the title."""
    first = first_paragraph(agenda_text)
    if not first:
        return ""
    squash = re.compile(r"\W+")
    if squash.sub("", first.lower()) == squash.sub("", title.lower()):
        return ""
    return shorten(first, limit)
