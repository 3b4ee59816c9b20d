"""Digests filtered to topic selections (SPEC §12.3), composed from pieces rendered once
per council-week.

A council with a few hundred subscribers has dozens of distinct topic selections, and
each selection's digest is the whole digest's meetings cut down to the matching items.
Rendering each from scratch (summaries, templates, CSS inlining) made a week's build
with topic choices several times slower than the whole-council build. Here a meeting's
block is rendered once per (level, section, meeting, items kept) and reused by every
selection that shows the same block; the frame around the content (head, masthead,
footer) is rendered and inlined once per council-week. A selection then costs a small
template render and string joins.

The output is the same as `weekly.render_digest` gives for the same sections (a test
compares them): footnote numbers depend on which blocks come before, so blocks are
rendered with markers naming the glossary term, and each selection numbers them in
reading order, the way `Footnoter` would have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import css_inline
from markupsafe import Markup

from digest.links import Links
from digest.mail.headers import header_text
from digest.mail.render import RenderedEmail, environment, inline_css, tidy_text
from digest.models import AgendaItem, Council, Meeting
from digest.summaries.glossary import Annotated, Footnote, Footnoter, Segment, glossary
from digest.summaries.meeting import Facts, MeetingSummary, summarise
from digest.summaries.weekly import (
    BARE,
    HTML_BUDGET,
    LEVELS,
    RenderedDigest,
    Sections,
    SiteInfo,
    context_of,
    view_of,
)
from digest.summaries.weeks import IsoWeek

# Private-use characters: never in council text, kept as they are by autoescaping and by
# the CSS inliner.
_NOTE = re.compile("\ue000(\\d+)\ue001")
_SLOT = re.compile("\ue002(\\d+)\ue003")
_FRAME = "\ue004"
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_SECTIONS = ("reported", "cancelled", "minutes", "upcoming")


@dataclass
class MarkingFootnoter(Footnoter):
    """A Footnoter that marks each term's first use with the term's glossary index
    instead of a number, recording the order the terms were first used in."""

    terms: list[int] = field(default_factory=list)

    def annotate(self, text: str) -> Annotated:
        if not text:
            return Annotated(())
        segments: list[Segment] = []
        position = 0
        for _start, end, index in self.glossary.find(text):
            if index in self._numbers:
                continue
            self._numbers[index] = len(self.terms) + 1
            self.terms.append(index)
            segments.append(Segment(f"{text[position:end]}\ue000{index}\ue001"))
            position = end
        if position < len(text) or not segments:
            segments.append(Segment(text[position:]))
        return Annotated(tuple(segments))


@dataclass(frozen=True)
class _Slot(MeetingSummary):
    """A meeting's summary standing in the digest's view for its rendered block: the
    templates print `pre_html`/`pre_text` (a placeholder) instead of the meeting block."""

    pre_html: Markup = field(default_factory=Markup)
    pre_text: str = ""


@dataclass(frozen=True)
class _Block:
    slot: _Slot
    html: str  # CSS inlined, footnotes marked
    text: str
    terms: tuple[int, ...]  # glossary indexes in the order first used


@dataclass
class _Frame:
    head: str  # the inlined email up to the content
    tail: str
    css: str  # the email's stylesheet, for inlining pieces of content


class FilteredRenderer:
    """Renders one council-week's digests for topic selections; blocks and the frame are
    kept between selections. Use one per council and week."""

    def __init__(
        self, council: Council, week: IsoWeek, *, now: datetime, site: SiteInfo, links: Links
    ) -> None:
        self.council = council
        self.week = week
        self.now = now
        self.site = site
        self.links = links
        self.facts = Facts()
        self._blocks: dict[tuple[Any, ...], _Block] = {}
        self._by_number: list[_Block] = []
        self._frame: _Frame | None = None
        env = environment()
        self._content = env.get_template("email/weekly_digest/_content.html")
        self._text = env.get_template("email/weekly_digest/body.txt")
        self._subject = env.get_template("email/weekly_digest/subject.txt")
        self._macro_html: Callable[..., Any] = env.get_template(
            "email/weekly_digest/_macros.html"
        ).module.meeting_block  # type: ignore[attr-defined]
        self._macro_text: Callable[..., Any] = env.get_template(
            "email/weekly_digest/_macros.txt"
        ).module.meeting_block  # type: ignore[attr-defined]

    def render(self, sections: Sections) -> RenderedDigest:
        """As `weekly.render_digest(..., web=False)`: the most detailed level that fits
        the HTML budget."""
        for level in range(len(LEVELS)):
            rendered = self.compose(sections, level)
            if len(rendered.email.html.encode()) <= HTML_BUDGET:
                break
        return rendered

    def compose(self, sections: Sections, level: int) -> RenderedDigest:
        frame = self._frame_for()
        chosen = [
            [self._block(m, name, level, sections.only) for m in getattr(sections, name)]
            for name in _SECTIONS
        ]
        # Footnotes numbered in reading order; a term is numbered where first used.
        numbers: dict[int, int] = {}
        owned: dict[int, set[int]] = {}
        for block in (b for blocks in chosen for b in blocks):
            mine = owned.setdefault(id(block), set())
            for term in block.terms:
                if term not in numbers:
                    numbers[term] = len(numbers) + 1
                    mine.add(term)
        terms = glossary().terms
        footnotes = [Footnote(n, terms[t].term, terms[t].definition) for t, n in numbers.items()]
        summaries: list[list[MeetingSummary]] = [[b.slot for b in blocks] for blocks in chosen]
        view = view_of(
            self.council,
            self.week,
            (summaries[0], summaries[1], summaries[2], summaries[3]),
            footnotes,
            now=self.now,
            site=self.site,
            links=self.links,
            level=level,
            topics_note=sections.topics_note,
        )
        context = context_of(view, self.site)
        present = {b.slot.pre_text: b for blocks in chosen for b in blocks}

        def fill(text: str, html: bool) -> str:
            def block(match: re.Match[str]) -> str:
                found = present[match.group(0)]
                body = found.html if html else found.text
                if not found.terms:
                    return body
                mine = owned[id(found)]
                return _NOTE.sub(lambda m: _note(int(m.group(1)), mine, numbers, html), body)

            return _SLOT.sub(block, text)

        content = css_inline.inline_fragment(self._content.render(context), frame.css)
        html = frame.head + fill(content, True) + frame.tail
        text = tidy_text(fill(self._text.render(context), False))
        subject = header_text(self._subject.render(context))
        return RenderedDigest(
            email=RenderedEmail(subject=subject, text=text, html=html), web_html="", view=view
        )

    def _block(
        self,
        meeting: Meeting,
        section: str,
        level: int,
        only: Callable[[AgendaItem], bool] | None,
    ) -> _Block:
        kept = tuple(i.id for i in meeting.items if only is None or only(i))
        key = (level, section, meeting.id, kept)
        found = self._blocks.get(key)
        if found is not None:
            return found
        keep = set(kept)
        notes = MarkingFootnoter(glossary())
        summary = summarise(
            meeting,
            tz=self.site.tz,
            now=self.now,
            notes=notes,
            page_url=lambda m: self.links.meeting(self.council.slug, m.id),
            limits=BARE if section == "cancelled" else LEVELS[level],
            only=lambda i: i.id in keep,
            facts=self.facts,
        )
        number = len(self._by_number)
        placeholder = f"\ue002{number}\ue003"
        slot = _Slot(
            **{f.name: getattr(summary, f.name) for f in fields(MeetingSummary)},
            pre_html=Markup(placeholder),  # noqa: S704 - our own placeholder, no input
            pre_text=placeholder,
        )
        html = str(self._macro_html(summary, section))
        block = _Block(
            slot=slot,
            html=css_inline.inline_fragment(html, self._frame_for().css),
            text=str(self._macro_text(summary, section)),
            terms=tuple(notes.terms),
        )
        self._blocks[key] = block
        self._by_number.append(block)
        return block

    def _frame_for(self) -> _Frame:
        """Everything around the content depends only on the council and the week."""
        if self._frame is None:
            empty = view_of(
                self.council,
                self.week,
                ([], [], [], []),
                [],
                now=self.now,
                site=self.site,
                links=self.links,
                level=0,
            )
            page = environment().get_template("email/weekly_digest/body.html")
            context = {**context_of(empty, self.site), "content": Markup(_FRAME)}  # noqa: S704
            raw = page.render(context)
            css = "\n".join(_STYLE.findall(raw))
            head, tail = inline_css(raw).split(_FRAME)
            self._frame = _Frame(head=head, tail=tail, css=css)
        return self._frame


def _note(term: int, mine: set[int], numbers: dict[int, int], html: bool) -> str:
    """A marked term: its number where this block is the first to use it, else nothing."""
    if term not in mine:
        return ""
    return f"<sup>[{numbers[term]}]</sup>" if html else f" [{numbers[term]}]"
