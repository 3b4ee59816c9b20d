"""Local-government jargon explained: the first use of a term in a summary or digest
gets a numbered footnote, the way the reference service annotates its summaries.

Text is never turned into markup here. A piece of text becomes a tuple of segments, each
optionally carrying a footnote number; templates print the text (autoescaped in HTML)
and the number after it.
"""

from __future__ import annotations

import importlib.resources
import json
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Term:
    term: str
    definition: str


@dataclass(frozen=True)
class Segment:
    text: str
    note: int | None = None


@dataclass(frozen=True)
class Annotated:
    """A piece of council text, split where a glossary term was first used."""

    segments: tuple[Segment, ...]

    def __str__(self) -> str:
        return "".join(s.text for s in self.segments)

    def __bool__(self) -> bool:
        return any(s.text for s in self.segments)

    @cached_property
    def html(self) -> Markup:
        """The text escaped, each footnote number as <sup>[n]</sup>. Built here rather
        than in a template macro because digests print thousands of these."""
        return Markup("").join(
            escape(s.text) + (Markup("<sup>[%d]</sup>") % s.note if s.note else "")
            for s in self.segments
        )

    @cached_property
    def linked(self) -> Markup:
        """As `html`, each footnote number a link to the term's definition on the same
        page (the list item with id "term-<n>"), for web pages; email keeps `html` and
        its numbered list."""
        return Markup("").join(
            escape(s.text)
            + (
                Markup('<sup class="fn"><a href="#term-%d" aria-label="Term %d explained">')
                % (s.note, s.note)
                + Markup("[%d]</a></sup>") % s.note
                if s.note
                else Markup("")
            )
            for s in self.segments
        )

    @cached_property
    def text(self) -> str:
        """Plain text with each footnote number as ' [n]'."""
        return "".join(s.text + (f" [{s.note}]" if s.note else "") for s in self.segments)

    @property
    def notes(self) -> tuple[int, ...]:
        """The footnote numbers first used in this text."""
        return tuple(s.note for s in self.segments if s.note)

    @classmethod
    def plain(cls, text: str) -> Annotated:
        return cls((Segment(text),))


@dataclass(frozen=True)
class Footnote:
    number: int
    term: str
    definition: str


class Glossary:
    def __init__(self, terms: list[Term], patterns: list[tuple[str, bool]]) -> None:
        self.terms = terms
        # One alternation with a named group per term: a single scan per text, whatever
        # the size of the glossary (digests annotate thousands of short texts).
        parts = []
        for index, (pattern, case_sensitive) in enumerate(patterns):
            scoped = f"(?:{pattern})" if case_sensitive else f"(?i:{pattern})"
            parts.append(f"(?P<t{index}>{scoped})")
        self._regex = re.compile(r"(?<![\w-])(?:" + "|".join(parts) + r")(?![\w-])")
        # Councils repeat the same item titles every week ("Apologies for Absence",
        # "Work Programme"), and one scan costs tens of microseconds.
        self.find = lru_cache(maxsize=8192)(self._find)  # type: ignore[method-assign]

    @classmethod
    def from_data(cls, data: dict[str, object]) -> Glossary:
        terms: list[Term] = []
        patterns: list[tuple[str, bool]] = []
        raw_terms = data["terms"]
        assert isinstance(raw_terms, list)
        for entry in raw_terms:
            terms.append(Term(term=entry["term"], definition=entry["definition"]))
            alternatives = "|".join(f"(?:{p})" for p in entry["patterns"])
            patterns.append((alternatives, bool(entry.get("case_sensitive", False))))
        return cls(terms, patterns)

    def find(self, text: str) -> tuple[tuple[int, int, int], ...]:
        """(start, end, term index) of every term used in `text`, in order."""
        return self._find(text)

    def _find(self, text: str) -> tuple[tuple[int, int, int], ...]:
        found = []
        for match in self._regex.finditer(text):
            name = match.lastgroup
            if name is not None:
                found.append((match.start(), match.end(), int(name[1:])))
        return tuple(found)

    def footnoter(self) -> Footnoter:
        return Footnoter(self)


@dataclass
class Footnoter:
    """Numbers terms in the order texts are annotated: annotate in reading order."""

    glossary: Glossary
    notes: list[Footnote] = field(default_factory=list)
    _numbers: dict[int, int] = field(default_factory=dict)

    def annotate(self, text: str) -> Annotated:
        if not text:
            return Annotated(())
        segments: list[Segment] = []
        position = 0
        for _start, end, index in self.glossary.find(text):
            if index in self._numbers:
                continue
            segments.append(self._first_use(text[position:end], index))
            position = end
        if position < len(text) or not segments:
            segments.append(Segment(text[position:]))
        return Annotated(tuple(segments))

    def _first_use(self, text: str, index: int) -> Segment:
        """The segment ending at a term's first use: numbered, its footnote recorded."""
        number = len(self.notes) + 1
        self._numbers[index] = number
        term = self.glossary.terms[index]
        self.notes.append(Footnote(number, term.term, term.definition))
        return Segment(text, number)


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    """The bundled glossary (digest/data/glossary.json)."""
    source = importlib.resources.files("digest") / "data" / "glossary.json"
    data = json.loads(source.read_text(encoding="utf-8"))
    return Glossary.from_data(data)
