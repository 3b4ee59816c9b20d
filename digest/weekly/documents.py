"""A meeting's papers as a reader wants them: the whole reports pack first, then the
additional documents (agenda, minutes, decision notice, supplementary packs, reports),
each paper once, nothing that leads to a login page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from digest.documents.kinds import classify
from digest.models import Document

# Order of the kinds; within a kind the council's order is kept.
_RANKS = ("reports_pack", "agenda", "minutes", "decision_notice", "supplementary")


@dataclass(frozen=True)
class Paper:
    title: str
    url: str
    published_on: date | None
    is_pack: bool
    kind: str = "other"
    problem: str | None = None


def kind_of(doc: Document) -> str:
    """The stored kind; documents stored before kinds existed are classified now."""
    if doc.kind and doc.kind != "other":
        return doc.kind
    return classify(doc.title, doc.url, linked_to_item=doc.agenda_item_id is not None)


def rank_of(kind: str) -> int:
    """Reports pack first, then the other kinds in reading order."""
    return _RANKS.index(kind) if kind in _RANKS else len(_RANKS)


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
        kind = kind_of(doc)
        rank = rank_of(kind)
        paper = Paper(title, doc.url.strip(), doc.published_on, rank == 0, kind, doc.problem)
        ranked.append((rank, position, paper))
    ranked.sort(key=lambda entry: (entry[0], entry[1]))
    return [paper for _, _, paper in ranked]
