"""A council-week's digests, the whole council's and one per topic selection (SPEC §12.3),
composed from pieces rendered once.

A council with a few hundred subscribers has dozens of distinct topic selections, and
each selection's digest is the whole digest's meetings cut down to the matching items.
Rendering each from scratch (summaries, templates, CSS inlining) made a week's build
with topic choices several times slower than the whole-council build. Here each agenda
item is summarised and rendered once per detail level, a meeting's block once per
(level, section, meeting, items kept) from its rendered items, and the frame around the
content (head, masthead, footer) once per council-week; every digest that shows the same
piece reuses it. A digest then costs a small template render and string joins.

The output is the same as `weekly.render_digest` gives for the same sections (a test
compares them): footnote numbers depend on what comes before, so texts are rendered with
a marker at each glossary term's first use in an item, and each digest numbers the
markers in reading order, keeping only the first use of each term, the way `Footnoter`
would have.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

import css_inline
from markupsafe import Markup

from digest.links import Links
from digest.mail.headers import header_text
from digest.mail.render import RenderedEmail, environment, inline_css, tidy_text
from digest.models import AgendaItem, Council, Meeting
from digest.site import Site
from digest.weekly.glossary import Footnote, Footnoter, Segment, glossary
from digest.weekly.meeting import Facts, ItemSummary, Limits, MeetingSummary, summarise
from digest.weekly.render import (
    BARE,
    HTML_BUDGET,
    LEVELS,
    DigestView,
    RenderedDigest,
    Sections,
    context_of,
    counts_of,
    header_line,
    view_of,
)
from digest.weekly.weeks import IsoWeek

# Private-use characters: never in council text, kept as they are by autoescaping and by
# the CSS inliner.
_NOTE = re.compile("\ue000(\\d+)\ue001")
_SLOT = re.compile("\ue002(\\d+)\ue003")
_ITEM = re.compile("\ue005(\\d+)\ue006")
_FRAME = "\ue004"
_BETWEEN = "\ue007"  # between items inlined together
_STYLE = re.compile(r"<style>(.*?)</style>", re.S)
_SECTIONS = ("reported", "cancelled", "minutes", "upcoming")


@dataclass
class MarkingFootnoter(Footnoter):
    """A Footnoter that puts a marker where it would number a term: a number of its own
    (an index into `table`, which records the term's glossary index), so that whoever
    composes the digest can number each marker, or drop it, afterwards."""

    table: list[int] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)  # this footnoter's markers, in order

    def _first_use(self, text: str, index: int) -> Segment:
        mark = len(self.table)
        self.table.append(index)
        self._numbers[index] = mark
        self.marks.append(mark)
        return Segment(f"{text}\ue000{mark}\ue001")


@dataclass(frozen=True)
class _ItemSlot(ItemSummary):
    """An item's summary with its rendering, printed by the meeting block as it is."""

    pre_html: Markup = field(default_factory=Markup)
    pre_text: str = ""
    marks: tuple[int, ...] = ()


class _MarkingFacts(Facts):
    """Facts that keep each item's summary and rendering, with footnote markers."""

    def __init__(
        self,
        like: Facts | None,
        table: list[int],
        macros: tuple[Any, Any],
        inline: Callable[[str], Markup],
    ) -> None:
        super().__init__(like=like)
        self._table = table
        self._macros = macros
        self._inline = inline
        self._items: dict[tuple[int, Limits], _ItemSlot] = {}

    def item(
        self,
        item: AgendaItem,
        decided: list[str],
        notes: Footnoter,
        limits: Limits,
        asked: list[str],
    ) -> ItemSummary:
        key = (item.id, limits)
        found = self._items.get(key)
        if found is None:
            marking = MarkingFootnoter(notes.glossary, table=self._table)
            summary = super().item(item, decided, marking, limits, asked)
            html, text = self._macros
            found = self._items[key] = _ItemSlot(
                **{f.name: getattr(summary, f.name) for f in fields(ItemSummary)},
                pre_html=self._inline(html(summary)),
                pre_text=str(text(summary)),
                marks=tuple(marking.marks),
            )
        return found


@dataclass(frozen=True)
class _Slot(MeetingSummary):
    """A meeting's summary standing in the digest's view for its rendered block: the
    templates print `pre_html`/`pre_text` (a placeholder) instead of the meeting block."""

    pre_html: Markup = field(default_factory=Markup)
    pre_text: str = ""


@dataclass
class _Block:
    slot: _Slot
    raw: str  # not inlined, for the web archive's copy
    text: str
    marks: tuple[int, ...]  # footnote markers in reading order
    html: str = ""  # CSS inlined, footnotes marked (set by `_inline_blocks`)


@dataclass
class _Frame:
    head: str  # the inlined email up to the content
    tail: str
    css: str  # the email's stylesheet, for inlining pieces of content
    view: DigestView  # the council's week with nothing in it


class DigestComposer:
    """Renders one council-week's digests (the whole council's and each topic
    selection's), keeping the pieces between them. Use one per council and week."""

    def __init__(
        self,
        council: Council,
        week: IsoWeek,
        *,
        now: datetime,
        site: Site,
        links: Links,
        facts: Facts | None = None,
    ) -> None:
        """`facts`: what the whole council's digest already read from the same items."""
        self.council = council
        self.week = week
        self.now = now
        self.site = site
        self.links = links
        self._blocks: dict[tuple[Any, ...], _Block] = {}
        self._by_number: list[_Block] = []
        self._pending_blocks: list[tuple[_Block, str]] = []  # made, not yet inlined
        self._frame: _Frame | None = None
        self._subjects: dict[tuple[Any, ...], str] = {}
        self._table: list[int] = []  # footnote marker -> glossary index
        env = environment()
        self._content = env.get_template("email/weekly_digest/_content.html")
        self._text = env.get_template("email/weekly_digest/body.txt")
        self._subject = env.get_template("email/weekly_digest/subject.txt")
        self._web = env.get_template("digests/_web_digest.html")
        html = env.get_template("email/weekly_digest/_macros.html").module
        text = env.get_template("email/weekly_digest/_macros.txt").module
        self._macro_html: Callable[..., Any] = html.meeting_block  # type: ignore[attr-defined]
        self._macro_text: Callable[..., Any] = text.meeting_block  # type: ignore[attr-defined]
        self._items_html: list[str] = []  # CSS inlined, by item placeholder
        self._items_raw: list[str] = []  # as rendered
        self.facts = _MarkingFacts(
            facts,
            self._table,
            (html.agenda_item, text.agenda_item),  # type: ignore[attr-defined]
            self._inline_item,
        )

    def render(self, sections: Sections, *, web: bool = False) -> RenderedDigest:
        """As `weekly.render_digest`: the most detailed level that fits the HTML budget;
        `web` also gives the archive's copy."""
        for level in range(len(LEVELS)):
            rendered = self.compose(sections, level, web=web)
            if len(rendered.email.html.encode()) <= HTML_BUDGET:
                break
        return rendered

    def compose(self, sections: Sections, level: int, *, web: bool = False) -> RenderedDigest:
        frame = self._frame_for()
        chosen = [
            [self._block(m, name, level, sections.only) for m in getattr(sections, name)]
            for name in _SECTIONS
        ]
        self._inline_blocks()
        # Footnotes numbered in reading order; a term is numbered where first used.
        numbers: dict[int, int] = {}
        first: dict[int, int] = {}  # marker -> number, for the markers that keep theirs
        table = self._table
        for block in (b for blocks in chosen for b in blocks):
            for mark in block.marks:
                term = table[mark]
                if term not in numbers:
                    first[mark] = numbers[term] = len(numbers) + 1
        terms = glossary().terms
        footnotes = [Footnote(n, terms[t].term, terms[t].definition) for t, n in numbers.items()]
        summaries: list[list[MeetingSummary]] = [[b.slot for b in blocks] for blocks in chosen]
        four = (summaries[0], summaries[1], summaries[2], summaries[3])
        counts = counts_of(four)
        # What depends only on the council and the week is worked out once, for the frame.
        view = replace(
            self._frame_for().view,
            reported=four[0],
            cancelled=four[1],
            minutes=four[2],
            upcoming=four[3],
            header_line=header_line(counts),
            counts=counts,
            footnotes=footnotes,
            level=level,
            topics_note=sections.topics_note,
        )
        context = context_of(view, self.site)
        present = {b.slot.pre_text: b for blocks in chosen for b in blocks}

        def html_note(match: re.Match[str]) -> str:
            number = first.get(int(match.group(1)))
            return f"<sup>[{number}]</sup>" if number else ""

        def text_note(match: re.Match[str]) -> str:
            number = first.get(int(match.group(1)))
            return f" [{number}]" if number else ""

        raw = self._content.render(context)
        content = css_inline.inline_fragment(raw, frame.css)
        content = _SLOT.sub(lambda m: _piece(present, m).html, content)
        html = frame.head + _NOTE.sub(html_note, content) + frame.tail
        web_html = ""
        if web:
            raw = _NOTE.sub(html_note, _SLOT.sub(lambda m: _piece(present, m).raw, raw))
            web_html = self._web.render(content=Markup(raw))  # noqa: S704 - our templates
        text = _SLOT.sub(lambda m: _piece(present, m).text, self._text.render(context))
        text = tidy_text(_NOTE.sub(text_note, text))
        return RenderedDigest(
            email=RenderedEmail(subject=self._subject_for(context), text=text, html=html),
            web_html=web_html,
            view=view,
        )

    def _subject_for(self, context: dict[str, Any]) -> str:
        """A subject says only the counts: selections with the same counts share one."""
        view: DigestView = context["d"]
        key = (view.is_quiet, *sorted(view.counts.items()))
        found = self._subjects.get(key)
        if found is None:
            found = self._subjects[key] = header_text(self._subject.render(context))
        return found

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
        summary = summarise(
            meeting,
            tz=self.site.tz,
            now=self.now,
            # Items are annotated by self.facts, each with markers of its own.
            notes=glossary().footnoter(),
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
        raw = str(self._macro_html(summary, section))
        block = _Block(
            slot=slot,
            raw=_ITEM.sub(self._item_raw, raw),
            text=str(self._macro_text(summary, section)),
            marks=tuple(
                mark for i in summary.items if isinstance(i, _ItemSlot) for mark in i.marks
            ),
        )
        self._blocks[key] = block
        self._by_number.append(block)
        self._pending_blocks.append((block, raw))
        return block

    def _inline_blocks(self) -> None:
        """Inline the blocks made since the last call in one css_inline call, as the
        items are (`_inline_pending`), then put their inlined items in."""
        pending, self._pending_blocks = self._pending_blocks, []
        if not pending:
            return
        self._inline_pending()
        css = self._frame_for().css
        pieces = _inline_together(
            [raw for _, raw in pending], lambda html: css_inline.inline_fragment(html, css)
        )
        for (block, _), html in zip(pending, pieces, strict=True):
            block.html = _ITEM.sub(self._item_html, html)

    def _item_html(self, match: re.Match[str]) -> str:
        number = int(match.group(1))
        # Anything else that looks like a placeholder came from a council: kept as it is.
        return self._items_html[number] if number < len(self._items_html) else match.group(0)

    def _item_raw(self, match: re.Match[str]) -> str:
        number = int(match.group(1))
        return self._items_raw[number] if number < len(self._items_raw) else match.group(0)

    def _inline_item(self, html: str) -> Markup:
        """An item's placeholder; its HTML is inlined later with the other items of the
        block being made (`_inline_pending`). The meeting blocks show the placeholder, so
        each block inlines only its own lines and an item shared by many is inlined once."""
        self._items_raw.append(html)
        return Markup(f"\ue005{len(self._items_raw) - 1}\ue006")  # noqa: S704 - ours

    def _inline_pending(self) -> None:
        """Inline the items made since the last call, where their list puts them
        (`.dg-items li`)."""
        done = len(self._items_html)
        pending = self._items_raw[done:]
        if not pending:
            return
        self._items_html.extend(_inline_together(pending, self._inline_list))

    def _inline_list(self, items: str) -> str:
        """List items inlined inside the digest's item list, without the list."""
        wrapped = css_inline.inline_fragment(
            f'<ul class="dg-items">{items}</ul>', self._frame_for().css
        )
        return wrapped[wrapped.index(">") + 1 : wrapped.rindex("</ul>")]

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
            self._frame = _Frame(head=head, tail=tail, css=css, view=empty)
        return self._frame


def _inline_together(pieces: list[str], inline: Callable[[str], str]) -> list[str]:
    """`inline` applied to each piece, in one call: each call of the inliner parses the
    stylesheet and a document, which per piece was a tenth of a week's build. The pieces
    are joined at a private-use separator and split again (the stylesheet has no sibling
    or position selectors, so a piece comes out as it would alone); one call per piece
    when council text holds the separator."""
    found = inline(_BETWEEN.join(pieces)).split(_BETWEEN)
    if len(found) != len(pieces):
        found = [inline(piece) for piece in pieces]
    return found


class _Verbatim:
    def __init__(self, text: str) -> None:
        self.html = self.raw = self.text = text


def _piece(present: dict[str, _Block], match: re.Match[str]) -> _Block | _Verbatim:
    """The block a placeholder stands for; anything else that looks like one came from a
    council and is kept as it is."""
    return present.get(match.group(0)) or _Verbatim(match.group(0))
