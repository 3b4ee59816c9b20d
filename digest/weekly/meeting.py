"""The summary of one meeting (SPEC §8): what it is, when and where, its public agenda
in order with the outcome of each item from the minutes, routine business in one line,
private items counted, the papers and who attended.

`summarise` is a pure function of a loaded Meeting; the same summary feeds the meeting
page, the weekly digest (with tighter limits) and the API.

Longer than 400 lines on purpose: `Facts` (what an item decided, its papers, whether it
is routine, worked out once and shared by every digest of the week) and `summarise`,
which reads them, are one step; the parts that stand alone live beside it (asks,
resolutions, plain, procedural, documents, glossary).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, raiseload, selectinload

from digest.clock import local_today
from digest.documents.kinds import THIN_AGENDA_CHARS
from digest.models import AgendaItem, Document, Meeting, MeetingStatus
from digest.topics import Topic, meeting_topics, taxonomy
from digest.weekly.asks import extract_asked_to_decide
from digest.weekly.documents import Paper, papers
from digest.weekly.glossary import Annotated, Footnoter
from digest.weekly.plain import Decided, plain_summary
from digest.weekly.procedural import Procedural, is_routine, procedural_kind
from digest.weekly.resolutions import extract_resolutions
from digest.weekly.text import description, first_paragraph, shorten


@dataclass(frozen=True)
class Limits:
    """How much of a meeting to show; None means all."""

    items: int | None = None
    outcomes: int | None = None
    outcome_chars: int = 600
    description_chars: int = 320  # 0: no descriptions
    papers: int | None = None
    note_chars: int = 280  # 0: no extract from minutes without a decision
    attendees: bool = True


FULL = Limits()


@dataclass(frozen=True)
class ItemSummary:
    number: str
    title: Annotated  # printed as plain text where it is a heading (the meeting page)
    description: Annotated | None
    outcomes: list[Annotated]
    hidden_outcomes: int
    note: Annotated | None  # what the minutes say when they record no decision
    asks: list[Annotated] = field(default_factory=list)  # "Asked to decide:", upcoming only


@dataclass(frozen=True)
class AttendeeSummary:
    name: str
    role: str
    party: str
    attendance: str
    member_source_id: str = ""  # ModernGov's member id: links to the councillor's page


@dataclass(frozen=True)
class MeetingSummary:
    id: int
    committee: str
    title: str
    heading: Annotated  # the committee, or the title; never footnoted (a heading and a link)
    start_at: datetime
    date_text: str
    time_text: str
    venue: str
    status: str
    status_text: str
    source_url: str
    page_url: str
    held: bool
    agenda_published: bool
    minutes_published: bool
    items: list[ItemSummary]
    hidden_items: int
    routine: str
    private_count: int
    papers: list[Paper]
    hidden_papers: int
    attendees: list[AttendeeSummary] = field(default_factory=list)
    summary: str | None = None  # the meeting in plain words (digest.weekly.plain)
    # The PDF the decisions were read from, when the web service gave no minutes.
    decisions_source: Paper | None = None

    @property
    def pack_papers(self) -> list[Paper]:
        return [p for p in self.papers if p.is_pack]

    @property
    def additional_papers(self) -> list[Paper]:
        return [p for p in self.papers if not p.is_pack]

    # The meeting's topics (digest.topics), most frequent first.
    topics: list[Topic] = field(default_factory=list)

    @property
    def topics_text(self) -> str:
        return ", ".join(t.title for t in self.topics)

    @property
    def is_cancelled(self) -> bool:
        return self.status == MeetingStatus.CANCELLED.value

    @property
    def when_text(self) -> str:
        return f"{self.date_text}, {self.time_text}" if self.time_text else self.date_text

    @property
    def decisions(self) -> int:
        return sum(len(i.outcomes) + i.hidden_outcomes for i in self.items)

    @property
    def private_text(self) -> str:
        if not self.private_count:
            return ""
        items = "item" if self.private_count == 1 else "items"
        verb = "considered" if self.held else "to be considered"
        return f"{self.private_count} {items} {verb} in private"


def local_date(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%A %-d %B %Y")


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%-I:%M%p").lower().replace(":00", "")


def resolutions_of(item: AgendaItem) -> list[str]:
    """Decisions of an item, read from its minutes whenever there are minutes; a stored
    list is used only for items that have none (the collector leaves it empty)."""
    if item.minutes_text:
        return extract_resolutions(item.minutes_text)
    return list(item.resolutions or [])


def asked_of(item: AgendaItem) -> list[str]:
    """What an upcoming item asks the meeting to decide: stored by the collector when the
    agenda text changes, read from the text for items stored before that."""
    if item.asked_to_decide:
        return list(item.asked_to_decide)
    found = extract_asked_to_decide(item.agenda_text) if item.agenda_text else []
    if not found and item.report_recommendations:
        # The agenda said too little; the item's report PDF says it (digest.documents).
        found = extract_asked_to_decide(report_section_text(item.report_recommendations))
    return found


def report_section_text(section: str) -> str:
    """A report's Recommendations section (PDF lines) as paragraphs under its heading,
    the shape extract_asked_to_decide reads: a new paragraph at each numbered line."""
    paragraphs: list[str] = []
    for line in section.split("\n"):
        if not paragraphs or _NUMBERED.match(line):
            paragraphs.append(line.strip())
        else:
            paragraphs[-1] += " " + line.strip()
    return "Recommendations\n\n" + "\n\n".join(paragraphs)


_NUMBERED = re.compile(r"^\s*(?:\(?[a-z0-9]{1,3}[.)]|\d{1,2}\.\d{1,2}\.?)\s")


class Facts:
    """What `summarise` reads from a meeting's items and papers. A meeting summarised
    many times over (once per topic selection, digest.topic_digests) shares one memo,
    so each item's minutes are read once; without a memo nothing is kept."""

    def __init__(self, *, memo: bool = True, like: Facts | None = None) -> None:
        """`like`: share that memo's findings (both must be used with the same items)."""
        self._memo = memo
        self._decided: dict[int, list[str]] = like._decided if like else {}
        self._asked: dict[int, list[str]] = like._asked if like else {}
        self._papers: dict[int, list[Paper]] = like._papers if like else {}
        self._topics: dict[int, list[Topic]] = like._topics if like else {}
        self._kinds: dict[int, Procedural | None] = like._kinds if like else {}

    def decided(self, item: AgendaItem) -> list[str]:
        if not self._memo:
            return resolutions_of(item)
        found = self._decided.get(item.id)
        if found is None:
            found = self._decided[item.id] = resolutions_of(item)
        return found

    def asked(self, item: AgendaItem) -> list[str]:
        if not self._memo:
            return asked_of(item)
        found = self._asked.get(item.id)
        if found is None:
            found = self._asked[item.id] = asked_of(item)
        return found

    def papers(self, meeting: Meeting) -> list[Paper]:
        if not self._memo:
            return papers(meeting.documents)
        found = self._papers.get(meeting.id)
        if found is None:
            found = self._papers[meeting.id] = papers(meeting.documents)
        return found

    def kind(self, item: AgendaItem) -> Procedural | None:
        if not self._memo:
            return procedural_kind(item.title)
        if item.id not in self._kinds:
            self._kinds[item.id] = procedural_kind(item.title)
        return self._kinds[item.id]

    def item(
        self,
        item: AgendaItem,
        decided: list[str],
        notes: Footnoter,
        limits: Limits,
        asked: list[str],
    ) -> ItemSummary:
        """An item's summary (a subclass may keep it: digest.topic_digests)."""
        return _item(item, decided, notes, limits, asked=asked)

    def topics(self, meeting: Meeting) -> list[Topic]:
        found = self._topics.get(meeting.id) if self._memo else None
        if found is None:
            tax = taxonomy()
            found = [t for t in map(tax.get, meeting_topics(meeting.items)) if t is not None]
            if self._memo:
                self._topics[meeting.id] = found
        return found


def load_meetings(session: Session, ids: Sequence[int], *, attendees: bool = True) -> list[Meeting]:
    """Meetings with their items, documents and (unless `attendees` is False: digests
    never list them) attendees, soonest first. A document's extracted text (a whole
    PDF's, often hundreds of kilobytes) is not loaded: what it says reaches summaries
    through the items it was shared out to."""
    if not ids:
        return []
    options = [
        selectinload(Meeting.items),
        selectinload(Meeting.documents).defer(Document.text, raiseload=True),
        selectinload(Meeting.attendees) if attendees else raiseload(Meeting.attendees),
    ]
    return list(
        session.scalars(
            sa.select(Meeting)
            .where(Meeting.id.in_(list(ids)))
            .options(*options)
            .order_by(Meeting.start_at, Meeting.id)
        )
    )


def _join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def heading_of(meeting: Meeting) -> str:
    """ModernGov titles are usually 'Committee - Tuesday, 10th February, 2026 10.00 am';
    the date is shown on its own line, so the committee is heading enough."""
    title, committee = meeting.title.strip(), meeting.committee.strip()
    if not committee or title.lower().startswith(committee.lower()) or not title:
        return committee or title
    return title


def status_text(meeting: Meeting) -> str:
    if meeting.status == MeetingStatus.CANCELLED:
        return "Cancelled"
    if meeting.status == MeetingStatus.RESCHEDULED:
        return "Moved to this date"
    return ""


def summarise(
    meeting: Meeting,
    *,
    tz: ZoneInfo,
    now: datetime,
    notes: Footnoter,
    page_url: Callable[[Meeting], str],
    limits: Limits = FULL,
    only: Callable[[AgendaItem], bool] | None = None,
    facts: Facts | None = None,
) -> MeetingSummary:
    """Summarise a meeting loaded with `load_meetings`. Glossary terms are footnoted in
    reading order, so call this in the order the summaries will be shown. `only` keeps
    just the items it accepts (a digest filtered to some topics); the others are left
    out entirely, neither listed nor counted."""
    facts = facts or Facts(memo=False)
    # Headings and link texts carry no footnote markers: a marker inside a link or a
    # heading is read out and clicked as part of it.
    heading = Annotated.plain(heading_of(meeting))
    items: list[ItemSummary] = []
    routine: list[str] = []
    private = 0
    public_items = 0
    decisions: list[Decided] = []
    asks: list[Decided] = []
    held = meeting.start_date < local_today(now, tz)
    for item in meeting.items:
        if only is not None and not only(item):
            continue
        if item.is_restricted:
            private += 1
            continue
        decided = facts.decided(item)
        asked = facts.asked(item) if not held else []
        decisions.append(Decided(item.title, decided))
        if not held:
            asks.append(Decided(item.title, asked))
        kind = facts.kind(item)
        if kind is not None and is_routine(decided):
            if kind.value not in routine:
                routine.append(kind.value)
            continue
        public_items += 1
        if limits.items is not None and len(items) >= limits.items:
            continue
        items.append(facts.item(item, decided, notes, limits, asked))
    all_papers = facts.papers(meeting)
    shown_papers = all_papers if limits.papers is None else all_papers[: limits.papers]
    return MeetingSummary(
        id=meeting.id,
        committee=meeting.committee,
        title=meeting.title,
        heading=heading,
        start_at=meeting.start_at,
        date_text=local_date(meeting.start_at, tz),
        time_text=local_time(meeting.start_at, tz) if meeting.time_known else "",
        venue=meeting.venue,
        status=meeting.status.value,
        status_text=status_text(meeting),
        source_url=meeting.source_url,
        page_url=page_url(meeting),
        held=held,
        agenda_published=meeting.agenda_published or bool(meeting.items),
        minutes_published=meeting.minutes_published,
        items=items,
        hidden_items=public_items - len(items),
        routine=f"Routine business: {_join(routine)}." if routine else "",
        private_count=private,
        papers=shown_papers,
        hidden_papers=len(all_papers) - len(shown_papers),
        attendees=[
            AttendeeSummary(a.name, a.role, a.party, a.attendance, a.member_source_id)
            for a in meeting.attendees
        ]
        if limits.attendees
        else [],
        decisions_source=_decisions_source(meeting, all_papers),
        summary=_plain(meeting, decisions, private, tz=tz, now=now, asks=asks),
        topics=facts.topics(meeting),
    )


def plain_summary_of(meeting: Meeting, *, tz: ZoneInfo, now: datetime) -> str | None:
    """The meeting in plain words, for a meeting loaded with its items (the API)."""
    public = [i for i in meeting.items if not i.is_restricted]
    decisions = [Decided(i.title, resolutions_of(i)) for i in public]
    asks = [Decided(i.title, asked_of(i)) for i in public]
    return _plain(meeting, decisions, len(meeting.items) - len(public), tz=tz, now=now, asks=asks)


def _plain(
    meeting: Meeting,
    decisions: list[Decided],
    private: int,
    *,
    tz: ZoneInfo,
    now: datetime,
    asks: list[Decided],
) -> str | None:
    return plain_summary(
        committee=meeting.committee or heading_of(meeting),
        start_at=meeting.start_at,
        tz=tz,
        now=now,
        cancelled=meeting.status == MeetingStatus.CANCELLED,
        minutes_published=meeting.minutes_published,
        items=decisions,
        private_count=private,
        agenda_items=len(meeting.items),
        asks=asks,
    )


def _decisions_source(meeting: Meeting, all_papers: list[Paper]) -> Paper | None:
    ids = {item.minutes_document_id for item in meeting.items if item.minutes_document_id}
    urls = {doc.url.strip() for doc in meeting.documents if doc.id in ids}
    return next((paper for paper in all_papers if paper.url in urls), None)


def _item(
    item: AgendaItem, decided: list[str], notes: Footnoter, limits: Limits, *, asked: list[str]
) -> ItemSummary:
    """`asked`: what the item asks the meeting to decide, for a meeting not yet held."""
    title = notes.annotate(item.title)
    about = description(item.agenda_text, item.title, limits.description_chars)
    if (
        item.report_recommendations
        and limits.description_chars
        and len(item.agenda_text) < THIN_AGENDA_CHARS
    ):
        # The agenda says little ("To consider the report"): what the item's report PDF
        # recommends deciding says more.
        about = shorten(
            f"The report recommends: {item.report_recommendations}", limits.description_chars
        )
    about_text = notes.annotate(about) if about and limits.description_chars else None
    shown = decided if limits.outcomes is None else decided[: limits.outcomes]
    outcomes = [notes.annotate(shorten(text, limits.outcome_chars)) for text in shown]
    note = None
    if not decided and item.minutes_text and limits.note_chars:
        note = notes.annotate(shorten(first_paragraph(item.minutes_text), limits.note_chars))
    return ItemSummary(
        number=item.number.strip(),
        title=title,
        description=about_text,
        outcomes=outcomes,
        hidden_outcomes=len(decided) - len(shown),
        note=note,
        asks=[notes.annotate(shorten(a, limits.outcome_chars)) for a in asked][: limits.outcomes]
        if asked and not decided
        else [],
    )
