"""A meeting's papers as a reader wants them: the whole reports pack first, each paper
once, nothing that leads to a login page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from digest.models import Document

# Order of the papers that stand for the whole meeting; everything else keeps the
# council's order after them.
_RANKS = [
    re.compile(r"\b(?:public\s+)?reports?\s+pack\b|\bagenda\s+(?:and\s+reports\s+)?pack\b", re.I),
    re.compile(r"\bagenda\s+front\s*sheet\b|^agenda$", re.I),
    re.compile(r"\bprinted\s+minutes\b|^minutes\b(?!.*\b\d{1,2}\s+\w{3,9}\s+\d{4})", re.I),
    re.compile(r"\bprinted\s+decisions\b|\bdecision\s+notice\b", re.I),
    re.compile(r"\bsupplementary\b", re.I),
]


@dataclass(frozen=True)
class Paper:
    title: str
    url: str
    published_on: date | None
    is_pack: bool


def _rank(title: str) -> int:
    for rank, pattern in enumerate(_RANKS):
        if pattern.search(title):
            return rank
    return len(_RANKS)


def _url_key(url: str) -> str:
    return url.strip().lower().replace("http://", "https://", 1).rstrip("/")


def _title_key(title: str) -> str:
    return re.sub(r"\W+", " ", title).strip().lower()


def papers(documents: Iterable[Document]) -> list[Paper]:
    """Public documents, reports pack first, de-duplicated by address and by title."""
    seen_urls: set[str] = set()
    seen_titles: set[str] = set()
    ranked: list[tuple[int, int, Paper]] = []
    for position, doc in enumerate(documents):
        if doc.is_restricted or not doc.url:
            continue
        title = re.sub(r"\s+", " ", doc.title).strip() or "Document"
        url_key, title_key = _url_key(doc.url), _title_key(title)
        if url_key in seen_urls or title_key in seen_titles:
            continue
        seen_urls.add(url_key)
        seen_titles.add(title_key)
        rank = _rank(title)
        ranked.append((rank, position, Paper(title, doc.url.strip(), doc.published_on, rank == 0)))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [paper for _, _, paper in ranked]
