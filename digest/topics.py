"""Topics: a bundled taxonomy of subjects a resident recognises, and the tagger that gives
every agenda item up to three of them (SPEC §12.3).

The method is deliberately transparent: each topic lists weighted words and phrases
(`digest/data/topics.json`); an item's title counts in full, its agenda text and
decisions at half weight, and a topic is given when its score reaches the threshold.
Routine business (apologies, minutes, work programmes, ...) gets no topics, because its
text mentions everything and is about nothing.

Each item stores the topics and the version (a hash of the taxonomy file) they were
computed with; `retag_stale` recomputes items tagged with an older taxonomy, so editing
the data file is all it takes to change the tags everywhere.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.models import AgendaItem

TEXT_WEIGHT = 0.5  # agenda text and decisions: they mention more than they are about
TEXT_CHARS = 4000  # enough to read what an item is about, bounded for very long minutes


@dataclass(frozen=True)
class Topic:
    slug: str
    title: str
    description: str


@dataclass(frozen=True)
class Taxonomy:
    topics: tuple[Topic, ...]
    version: str
    threshold: float
    max_topics: int
    # One alternation per topic, each phrase a named group so a match says which phrase.
    _patterns: tuple[tuple[str, re.Pattern[str], dict[str, float]], ...]
    _skip: re.Pattern[str]

    @cached_property
    def slugs(self) -> tuple[str, ...]:
        return tuple(t.slug for t in self.topics)

    def get(self, slug: str) -> Topic | None:
        return next((t for t in self.topics if t.slug == slug), None)

    def title(self, slug: str) -> str:
        topic = self.get(slug)
        return topic.title if topic else slug

    def is_routine(self, title: str) -> bool:
        return bool(self._skip.search(title.strip()))

    def scores(self, title: str, text: str = "") -> dict[str, float]:
        found: dict[str, float] = {}
        for part, weight in ((title, 1.0), (text[:TEXT_CHARS], TEXT_WEIGHT)):
            if not part:
                continue
            for slug, pattern, weights in self._patterns:
                # Each phrase counts once per part: a report that says "housing" twenty
                # times is not twenty times more about housing.
                phrases = {m.lastgroup for m in pattern.finditer(part) if m.lastgroup}
                if phrases:
                    score = sum(weights[p] for p in phrases) * weight
                    found[slug] = found.get(slug, 0.0) + score
        return found

    def tag(self, title: str, text: str = "", decisions: Sequence[str] = ()) -> list[str]:
        """The item's topics, strongest first (ties in taxonomy order)."""
        if self.is_routine(title):
            return []
        body = " \n".join([text, *decisions]).strip()
        scores = self.scores(title, body)
        order = {slug: n for n, slug in enumerate(self.slugs)}
        chosen = [s for s, v in scores.items() if v >= self.threshold]
        chosen.sort(key=lambda s: (-scores[s], order[s]))
        return chosen[: self.max_topics]


def _phrase_pattern(phrase: str) -> str:
    """A phrase as whole words, any run of spaces or hyphens between them, "and" also
    written "&", with an optional plural ending. A term starting "re:" is a regular
    expression (for shapes such as planning references, 24/01234/FUL)."""
    if phrase.startswith("re:"):
        return phrase[3:]
    words = [
        "(?:and|&)" if w.lower() == "and" else re.escape(w)
        for w in re.split(r"[\s-]+", phrase.strip())
        if w
    ]
    body = r"[\s\-]+".join(words)
    start = r"(?<![\w/])" if phrase[:1].isalnum() else ""
    return rf"{start}{body}(?:s|es)?(?!\w)"


def parse(raw: bytes) -> Taxonomy:
    data = json.loads(raw)
    topics: list[Topic] = []
    patterns: list[tuple[str, re.Pattern[str], dict[str, float]]] = []
    for entry in data["topics"]:
        slug = entry["slug"]
        topics.append(Topic(slug=slug, title=entry["title"], description=entry["description"]))
        weights: dict[str, float] = {}
        alternatives: list[str] = []
        for n, (phrase, weight) in enumerate(entry["terms"].items()):
            name = f"p{n}"
            weights[name] = float(weight)
            alternatives.append(f"(?P<{name}>{_phrase_pattern(phrase)})")
        patterns.append((slug, re.compile("|".join(alternatives), re.IGNORECASE), weights))
    skip = re.compile("|".join(f"(?:{p})" for p in data["skip_titles"]), re.IGNORECASE)
    return Taxonomy(
        topics=tuple(topics),
        version=hashlib.sha256(raw).hexdigest()[:16],
        threshold=float(data["threshold"]),
        max_topics=int(data["max_topics"]),
        _patterns=tuple(patterns),
        _skip=skip,
    )


@lru_cache(maxsize=1)
def taxonomy() -> Taxonomy:
    raw = importlib.resources.files("digest").joinpath("data/topics.json").read_bytes()
    return parse(raw)


def item_text(item: AgendaItem) -> tuple[str, list[str]]:
    """What an item says besides its title: agenda text and decisions."""
    decisions = list(item.resolutions or [])
    if item.minutes_text:
        # Imported here: summaries import this module for topic lines.
        from digest.weekly.resolutions import extract_resolutions

        decisions = extract_resolutions(item.minutes_text)
    return item.agenda_text or "", decisions


def tag_item(item: AgendaItem, tax: Taxonomy | None = None) -> None:
    tax = tax or taxonomy()
    if item.is_restricted:
        # Private items publish only a title, often a neutral one; tag that.
        item.topics = tax.tag(item.title)
    else:
        text, decisions = item_text(item)
        item.topics = tax.tag(item.title, text, decisions)
    item.topics_version = tax.version


def retag_stale(session: Session, *, batch: int = 2000, limit: int | None = None) -> int:
    """Tag items never tagged or tagged with another version of the taxonomy, in batches
    (so a changed taxonomy is applied without loading every item at once). Returns how
    many items were tagged. Never commits."""
    tax = taxonomy()
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        items = list(
            session.scalars(
                sa.select(AgendaItem)
                .where(AgendaItem.topics_version != tax.version)
                .order_by(AgendaItem.id)
                .limit(size)
            )
        )
        if not items:
            break
        for item in items:
            tag_item(item, tax)
        session.flush()
        done += len(items)
    return done


def count_stale(session: Session) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count())
            .select_from(AgendaItem)
            .where(AgendaItem.topics_version != taxonomy().version)
        )
        or 0
    )


def valid_selection(slugs: Iterable[str]) -> list[str]:
    """Known slugs only, in taxonomy order, without repeats."""
    wanted = set(slugs)
    return [s for s in taxonomy().slugs if s in wanted]


def meeting_topics(items: Iterable[AgendaItem]) -> list[str]:
    """The topics of a meeting's public items, most frequent first."""
    counts: dict[str, int] = {}
    for item in items:
        if item.is_restricted:
            continue
        for slug in item.topics or []:
            counts[slug] = counts.get(slug, 0) + 1
    order = {slug: n for n, slug in enumerate(taxonomy().slugs)}
    return sorted(counts, key=lambda s: (-counts[s], order.get(s, 99)))
