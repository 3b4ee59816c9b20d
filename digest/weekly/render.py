"""The weekly digest of one council, rendered once per council-week.

`render_digest` turns the selected meetings into the subject, plain text and HTML (CSS
inlined) of the email, plus the web archive's copy. The email keeps placeholders where
each recipient's manage and unsubscribe links go; the delivery engine fills them in.
Gmail clips HTML beyond about 100 KB, taking the unsubscribe link with it, so a busy
week is re-rendered with less detail per meeting until it fits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from digest.links import Links
from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.mail.render import RenderedEmail, environment, render_email
from digest.models import AgendaItem, Council, Meeting
from digest.site import Site
from digest.weekly.glossary import Footnote, glossary
from digest.weekly.meeting import (
    Facts,
    Limits,
    MeetingSummary,
    local_date,
    local_time,
    summarise,
)
from digest.weekly.weeks import IsoWeek, date_range_text

HTML_BUDGET = 95_000  # bytes; Gmail clips at about 102 KB

# From most to least detail. Every level still names every meeting and links to its page.
LEVELS = [
    Limits(items=12, outcomes=5, outcome_chars=320, description_chars=200, papers=4,
           note_chars=200, attendees=False),
    Limits(items=8, outcomes=3, outcome_chars=220, description_chars=120, papers=2,
           note_chars=140, attendees=False),
    Limits(items=5, outcomes=2, outcome_chars=160, description_chars=0, papers=1,
           note_chars=0, attendees=False),
    Limits(items=3, outcomes=1, outcome_chars=120, description_chars=0, papers=1,
           note_chars=0, attendees=False),
    Limits(items=0, outcomes=0, outcome_chars=80, description_chars=0, papers=0,
           note_chars=0, attendees=False),
]  # fmt: skip


@dataclass(frozen=True)
class DigestView:
    council_name: str
    council_short: str
    slug: str
    week: str
    week_text: str
    report_text: str
    reported: list[MeetingSummary]
    cancelled: list[MeetingSummary]
    minutes: list[MeetingSummary]
    upcoming: list[MeetingSummary]
    header_line: str
    counts: dict[str, int]
    stale: bool
    last_collected: str
    source_url: str
    council_url: str
    archive_url: str
    digest_url: str
    footnotes: list[Footnote]
    level: int
    # For a digest filtered to some topics: what it holds, said at the top.
    topics_note: str = ""

    @property
    def is_quiet(self) -> bool:
        return not (self.reported or self.cancelled or self.minutes or self.upcoming)


@dataclass(frozen=True)
class RenderedDigest:
    email: RenderedEmail
    web_html: str
    view: DigestView


@dataclass(frozen=True)
class Sections:
    reported: list[Meeting]
    cancelled: list[Meeting]
    minutes: list[Meeting]
    upcoming: list[Meeting]
    # A digest filtered to topics: the items to keep, and the note that says so.
    only: Callable[[AgendaItem], bool] | None = None
    topics_note: str = ""


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def header_line(counts: dict[str, int]) -> str:
    """One line that says what is in the digest, e.g. 'Last week: 3 meetings, 7 decisions ·
    1 cancelled · This week: 2 meetings'."""
    last = (
        f"Last week: {_plural(counts['reported'], 'meeting')}"
        + (f", {_plural(counts['decisions'], 'decision')}" if counts["decisions"] else "")
        if counts["reported"]
        else "Last week: no meetings"
    )
    parts = [last]
    if counts["cancelled"]:
        parts.append(f"{counts['cancelled']} cancelled")
    if counts["minutes"]:
        parts.append(f"new minutes for {_plural(counts['minutes'], 'earlier meeting')}")
    parts.append(
        f"This week: {_plural(counts['upcoming'], 'meeting')}"
        if counts["upcoming"]
        else "This week: no meetings"
    )
    return " · ".join(parts)


def build_view(
    council: Council,
    week: IsoWeek,
    sections: Sections,
    *,
    now: datetime,
    site: Site,
    links: Links,
    level: int = 0,
    facts: Facts | None = None,
) -> DigestView:
    """Summaries in reading order (the footnotes are numbered as they are read)."""
    tz = site.tz
    limits = LEVELS[level]
    notes = glossary().footnoter()

    def page(meeting: Meeting) -> str:
        return links.meeting(council.slug, meeting.id)

    def many(meetings: list[Meeting], section_limits: Limits) -> list[MeetingSummary]:
        return [
            summarise(
                m,
                tz=tz,
                now=now,
                notes=notes,
                page_url=page,
                limits=section_limits,
                only=sections.only,
                facts=facts,
            )
            for m in meetings
        ]

    reported = many(sections.reported, limits)
    cancelled = many(sections.cancelled, BARE)
    minutes = many(sections.minutes, limits)
    upcoming = many(sections.upcoming, limits)
    return view_of(
        council,
        week,
        (reported, cancelled, minutes, upcoming),
        list(notes.notes),
        now=now,
        site=site,
        links=links,
        level=level,
        topics_note=sections.topics_note,
    )


# Cancelled meetings are only named.
BARE = Limits(items=0, outcomes=0, description_chars=0, papers=0, note_chars=0, attendees=False)


def counts_of(
    summaries: tuple[
        list[MeetingSummary], list[MeetingSummary], list[MeetingSummary], list[MeetingSummary]
    ],
) -> dict[str, int]:
    reported, cancelled, minutes, upcoming = summaries
    return {
        "reported": len(reported),
        "decisions": sum(m.decisions for m in reported) + sum(m.decisions for m in minutes),
        "cancelled": len(cancelled),
        "minutes": len(minutes),
        "upcoming": len(upcoming),
    }


def view_of(
    council: Council,
    week: IsoWeek,
    summaries: tuple[
        list[MeetingSummary], list[MeetingSummary], list[MeetingSummary], list[MeetingSummary]
    ],
    footnotes: list[Footnote],
    *,
    now: datetime,
    site: Site,
    links: Links,
    level: int,
    topics_note: str = "",
) -> DigestView:
    """The digest's view from its meetings' summaries (reported, cancelled, minutes,
    upcoming) and the footnotes they use."""
    tz = site.tz
    reported, cancelled, minutes, upcoming = summaries
    counts = counts_of(summaries)
    report = week.previous()
    last = council.last_success_at
    return DigestView(
        council_name=council.name,
        council_short=council.short_name,
        slug=council.slug,
        week=week.label,
        week_text=date_range_text(week.monday, week.sunday),
        report_text=date_range_text(report.monday, report.sunday),
        reported=reported,
        cancelled=cancelled,
        minutes=minutes,
        upcoming=upcoming,
        header_line=header_line(counts),
        counts=counts,
        stale=council.is_stale(now),
        last_collected=f"{local_date(last, tz)}, {local_time(last, tz)}" if last else "",
        source_url=council.base_url or council.website,
        council_url=links.council(council.slug),
        archive_url=links.digests(council.slug),
        digest_url=links.digest(council.slug, week.label),
        footnotes=footnotes,
        level=level,
        topics_note=topics_note,
    )


def context_of(view: DigestView, site: Site) -> dict[str, Any]:
    return {
        "d": view,
        **site.mail_context(),
        "manage_url": MANAGE_PLACEHOLDER,
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }


def render_digest(
    council: Council,
    week: IsoWeek,
    sections: Sections,
    *,
    now: datetime,
    site: Site,
    links: Links,
    web: bool = True,
    first_level: int = 0,
    facts: Facts | None = None,
) -> RenderedDigest:
    """Render at the most detailed level (from `first_level` on) whose HTML fits the
    budget; `web` also renders the archive's copy (digests filtered to topics have none)."""
    content = environment().get_template("email/weekly_digest/_content.html")
    for level in range(first_level, len(LEVELS)):
        view = build_view(
            council, week, sections, now=now, site=site, links=links, level=level, facts=facts
        )
        # The HTML content is rendered once and shared by the email and the web archive.
        # It is our own template's autoescaped output, so it is passed on as markup.
        html = Markup(content.render(context_of(view, site)))  # noqa: S704
        email = render_email("weekly_digest", content=html, **context_of(view, site))
        if len(email.html.encode()) <= HTML_BUDGET:
            break
    web_html = (
        environment().get_template("digests/_web_digest.html").render(content=html) if web else ""
    )
    return RenderedDigest(email=email, web_html=web_html, view=view)
