"""Build a council's weekly digest: select, render once, store, queue for every active
subscriber.

A digest is rendered once per council and ISO week and stored; each outbox row only
points at it (the delivery engine fills in each recipient's links). Building again
finds the stored digest and queues only what was not queued before, so it is safe to
repeat. People who confirm after a digest was built get the next one.

Functions here never commit: the caller owns the transaction (one per council, so a
failure for one council does not undo the others).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import suppressions
from digest.addresses import email_hash
from digest.config import Config
from digest.links import Links
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.models import (
    AgendaItem,
    Council,
    CouncilStatus,
    Digest,
    DigestMeeting,
    DigestSection,
    Meeting,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.site import Site
from digest.topic_digests import DigestComposer
from digest.topics import taxonomy, valid_selection
from digest.weekly.meeting import Facts, load_meetings
from digest.weekly.render import Sections
from digest.weekly.selection import Selection, select_meetings
from digest.weekly.weeks import IsoWeek

QUIET_SKIP = "skip"


@dataclass(frozen=True)
class BuildSettings:
    site: Site
    quiet_weeks: str
    secret_key: str
    # Processes rendering digests ahead of the build (digest.weekly.ahead); 0: one per
    # CPU, 1: none, the build renders everything itself.
    processes: int = 0

    @classmethod
    def from_config(cls, config: Config) -> BuildSettings:
        site = Site.from_config(config)
        return cls(
            site=site,
            quiet_weeks=config.digest.quiet_weeks,
            secret_key=config.site.secret_key,
            processes=config.digest.build_processes,
        )


@dataclass(frozen=True)
class CouncilBuild:
    slug: str
    digest_id: int
    created: bool  # False when this week's digest already existed
    quiet: bool
    queued: int  # outbox rows added by this build


class UnknownCouncil(LookupError):
    """A slug that names no council."""


def reference(digest_id: int) -> str:
    return f"digest:{digest_id}"


def councils_to_build(session: Session, slugs: Sequence[str] = ()) -> list[Council]:
    """Enabled councils, all or the named ones; a named council that is not enabled is
    left out (it has no weekly digest), an unknown name is an error."""
    query = sa.select(Council).order_by(Council.slug)
    if slugs:
        found = list(session.scalars(query.where(Council.slug.in_(list(slugs)))))
        missing = sorted(set(slugs) - {c.slug for c in found})
        if missing:
            raise UnknownCouncil(f"no council called {', '.join(missing)}")
        return [c for c in found if c.status == CouncilStatus.ENABLED]
    return list(session.scalars(query.where(Council.status == CouncilStatus.ENABLED)))


def build_council_digest(
    session: Session,
    council: Council,
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
    ahead: CouncilRendering | None = None,
) -> CouncilBuild:
    """`ahead`: what another process rendered for this council (digest.weekly.ahead);
    whatever it lacks is rendered here."""
    stored = _stored(session, council.id, week)
    digest = stored.get("")
    created = digest is None
    content: _Content | None = None

    def render(key: str) -> Digest:
        nonlocal content
        if ahead is not None and key in ahead.digests:
            return ahead.digests[key].digest(council.id, week, key, now)
        content = content or _Content.load(session, council.id, week, settings.site.tz)
        return _rendered(council, week, now, settings, links, content, _topics_of(key))

    if digest is None:
        digest = render("")
        # Content is loaded here only when the whole digest was not rendered ahead.
        sections = (
            content.selection.sections() if content else cast(CouncilRendering, ahead).sections
        )
        # Added once complete, so that no autoflush can write it half filled in.
        session.add(digest)
        session.flush()
        # The archive and the next weeks' selections go by the whole council's digest.
        session.add_all(
            DigestMeeting(digest_id=digest.id, meeting_id=meeting_id, section=section)
            for section, ids in sections
            for meeting_id in ids
        )
    groups = _recipients(session, council, digest, settings.secret_key)
    chosen: dict[str, Digest] = {"": digest}
    for key in groups:
        if key and key not in chosen:
            found = stored.get(key)
            if found is None:
                found = render(key)
                session.add(found)  # unflushed: one flush below for every selection
            chosen[key] = found
    # One flush for every selection's digest, one insert for everyone's outbox row.
    session.flush()
    rows = [
        row
        for key, recipients in groups.items()
        if not (chosen[key].is_quiet and settings.quiet_weeks == QUIET_SKIP)
        for row in _outbox_rows(council, digest, chosen[key], recipients)
    ]
    queued = outbox.enqueue_many(session, rows, now=now, domain=settings.site.domain)
    return CouncilBuild(
        slug=council.slug,
        digest_id=digest.id,
        created=created,
        quiet=digest.is_quiet,
        queued=queued,
    )


@dataclass(frozen=True)
class Rendering:
    """A rendered digest's columns, to be stored by another process than the one that
    rendered them (digest.weekly.ahead)."""

    subject: str
    body_text: str
    body_html: str
    web_html: str
    counts: dict[str, Any]
    is_quiet: bool

    @classmethod
    def of(cls, digest: Digest) -> Rendering:
        found = {f.name: getattr(digest, f.name) for f in fields(cls)}
        return cls(**{**found, "web_html": found["web_html"] or ""})  # unset: the default

    def onto(self, digest: Digest) -> Digest:
        for f in fields(self):
            setattr(digest, f.name, getattr(self, f.name))
        return digest

    def digest(self, council_id: int, week: IsoWeek, key: str, now: datetime) -> Digest:
        return self.onto(Digest(council_id=council_id, week=week.label, topics=key, built_at=now))


@dataclass(frozen=True)
class CouncilRendering:
    """A council-week's digests rendered ahead of its build, by selection key ("": the
    whole council's), with the sections of the whole council's digest."""

    digests: dict[str, Rendering]
    sections: list[tuple[DigestSection, list[int]]]


def render_council(
    session: Session,
    council_id: int,
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
) -> CouncilRendering:
    """What `build_council_digest` would render for the council now: the whole council's
    digest and one per topic selection its active subscribers chose, leaving out what is
    stored already. Reads only."""
    council = session.get(Council, council_id)
    if council is None:
        return CouncilRendering({}, [])
    stored = _stored(session, council_id, week)
    content = _Content.load(session, council_id, week, settings.site.tz)
    chosen = session.scalars(sa.select(Subscription.topics).where(*_receiving(council_id, now)))
    keys = {""} | {selection_key(topics) for topics in {tuple(t or ()) for t in chosen}}
    digests = {
        key: Rendering.of(_rendered(council, week, now, settings, links, content, _topics_of(key)))
        for key in sorted(keys - set(stored))
    }
    return CouncilRendering(digests, content.selection.sections())


def _topics_of(key: str) -> tuple[str, ...]:
    return tuple(key.split(",")) if key else ()


def _stored(session: Session, council_id: int, week: IsoWeek) -> dict[str, Digest]:
    """The council's digests for the week, whole ("") and per topic selection."""
    return {
        d.topics: d
        for d in session.scalars(
            sa.select(Digest).where(Digest.council_id == council_id, Digest.week == week.label)
        )
    }


@dataclass
class _Content:
    """What the council's digest for the week is made of, loaded once and shared by
    every topic selection rendered from it."""

    selection: Selection
    meetings: dict[int, Meeting]
    # Renderings by what they show: selections that keep the same items and name the
    # same topics share one rendering (each still gets its own row).
    rendered: dict[tuple[Any, ...], Digest] = field(default_factory=dict)
    # Renders the week's digests from pieces they share (digest.topic_digests).
    renderer: DigestComposer | None = None
    # What every rendering reads from the items (their decisions, papers, ...), read once.
    facts: Facts = field(default_factory=Facts)
    # Each meeting's public items with topics: (item id, topics).
    tagged: dict[int, list[tuple[int, frozenset[str]]]] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session, council_id: int, week: IsoWeek, tz: ZoneInfo) -> _Content:
        selection = select_meetings(session, council_id, week, tz)
        ids = [i for _, ids in selection.sections() for i in ids]
        meetings = {m.id: m for m in load_meetings(session, ids, attendees=False)}
        tagged = {
            m.id: [(i.id, frozenset(i.topics)) for i in m.items if i.topics and not i.is_restricted]
            for m in meetings.values()
        }
        return cls(selection, meetings, tagged=tagged)

    def sections(self, topics: tuple[str, ...]) -> tuple[Sections, bool]:
        """The sections for a topic selection (all topics when empty), and whether
        nothing is left in them."""
        sel = self.selection
        if not topics:

            def pick(ids: list[int]) -> list[Meeting]:
                return [self.meetings[i] for i in ids]

            return (
                Sections(
                    reported=pick(sel.reported),
                    cancelled=pick(sel.cancelled),
                    minutes=pick(sel.minutes),
                    upcoming=pick(sel.upcoming),
                ),
                sel.is_empty,
            )
        wanted = frozenset(topics)
        matching: set[int] = set()  # items kept
        shown: set[str] = set()  # chosen topics that have news

        def keep(ids: list[int]) -> list[Meeting]:
            found = []
            for meeting_id in ids:
                hit = False
                for item_id, slugs in self.tagged[meeting_id]:
                    common = wanted & slugs
                    if common:
                        matching.add(item_id)
                        shown.update(common)
                        hit = True
                if hit:
                    found.append(self.meetings[meeting_id])
            return found

        def matches(item: AgendaItem) -> bool:
            return item.id in matching

        kept = [keep(ids) for ids in (sel.reported, sel.cancelled, sel.minutes, sel.upcoming)]
        sections = Sections(
            reported=kept[0],
            cancelled=kept[1],
            minutes=kept[2],
            upcoming=kept[3],
            only=matches,
            topics_note=topics_note(valid_selection(shown)),
        )
        empty = not (
            sections.reported or sections.cancelled or sections.minutes or sections.upcoming
        )
        return sections, empty


def topics_note(shown: Sequence[str]) -> str:
    """What a filtered digest says at the top; names the chosen topics it has news on."""
    tax = taxonomy()
    names = [tax.title(slug) for slug in shown]
    if not names:
        listed = ""
    elif len(names) == 1:
        listed = f": this week, {names[0]}"
    else:
        listed = f": this week, {', '.join(names[:-1])} and {names[-1]}"
    return (
        f"This digest holds only meetings and items on the topics you chose{listed}. "
        "To get everything again, use the manage link at the bottom."
    )


def _content_key(sections: Sections) -> tuple[Any, ...]:
    def ids(meetings: list[Meeting]) -> tuple[tuple[int, tuple[int, ...]], ...]:
        only = sections.only
        return tuple(
            (m.id, tuple(i.id for i in m.items if only is None or only(i))) for m in meetings
        )

    return (
        ids(sections.reported),
        ids(sections.cancelled),
        ids(sections.minutes),
        ids(sections.upcoming),
        sections.topics_note,
    )


def selection_key(topics: Sequence[str] | None) -> str:
    """How a subscription's topic choice is stored on its digest: "" for all topics."""
    chosen = valid_selection(topics or ())
    if not chosen or len(chosen) == len(taxonomy().slugs):
        return ""
    return ",".join(chosen)


def _rendered(
    council: Council,
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
    content: _Content,
    topics: tuple[str, ...],
) -> Digest:
    """A new, complete Digest for the topic selection (all topics when empty), not yet
    in the session."""
    sections, empty = content.sections(topics)
    digest = Digest(council_id=council.id, week=week.label, topics=",".join(topics), built_at=now)
    if empty and topics and settings.quiet_weeks == QUIET_SKIP:
        # Nothing on these topics and nothing will be sent: no need to render.
        digest.subject, digest.body_text, digest.body_html = "", "", ""
        digest.counts, digest.is_quiet = {}, True
        return digest
    key = _content_key(sections) if topics else None
    twin = content.rendered.get(key) if key is not None else None
    if twin is not None:
        return Rendering.of(twin).onto(digest)
    if content.renderer is None:
        content.renderer = DigestComposer(
            council, week, now=now, site=settings.site, links=links, facts=content.facts
        )
    # The whole council's digest too: its items are the ones the selections show.
    rendered = content.renderer.render(sections, web=not topics)
    digest.subject = rendered.email.subject
    digest.body_text = rendered.email.text
    digest.body_html = rendered.email.html
    digest.web_html = rendered.web_html
    digest.counts = {**rendered.view.counts, "detail_level": rendered.view.level}
    digest.is_quiet = empty
    if key is not None:
        content.rendered[key] = digest
    return digest


@dataclass(frozen=True)
class _Recipient:
    subscription_id: int
    subscriber_id: int
    email: str


def _receiving(council_id: int, built_at: datetime) -> tuple[sa.ColumnElement[bool], ...]:
    """The subscriptions that receive a council's digest built at `built_at`."""
    return (
        Subscription.council_id == council_id,
        Subscription.status == SubscriptionStatus.ACTIVE,
        Subscription.confirmed_at <= built_at,
    )


def _recipients(
    session: Session, council: Council, digest: Digest, secret_key: str
) -> dict[str, list[_Recipient]]:
    """Subscriptions active when the digest was built, minus suppressed addresses
    (delivery checks both again at send time), grouped by topic selection ("": all)."""
    rows = session.execute(
        sa.select(
            Subscription.id, Subscription.subscriber_id, Subscriber.email, Subscription.topics
        )
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(*_receiving(council.id, digest.built_at))
        .order_by(Subscription.id)
    ).all()
    hashes = {email: email_hash(secret_key, email) for _, _, email, _ in rows}
    suppressed = suppressions.which_suppressed(session, list(hashes.values()))
    groups: dict[str, list[_Recipient]] = {}
    keys: dict[tuple[str, ...], str] = {}  # a few dozen selections among thousands
    for subscription_id, subscriber_id, email, topics in rows:
        if hashes[email] in suppressed:
            continue
        chosen = tuple(topics or ())
        key = keys.get(chosen)
        if key is None:
            key = keys[chosen] = selection_key(chosen)
        groups.setdefault(key, []).append(_Recipient(subscription_id, subscriber_id, email))
    return groups


def _outbox_rows(
    council: Council, digest: Digest, chosen: Digest, recipients: list[_Recipient]
) -> Iterator[dict[str, Any]]:
    """One row per recipient. Every row names the council's week (the whole digest's
    reference), so a subscriber gets one digest a week whatever they choose; digest_id
    points at the rendering they get."""
    ref = reference(digest.id)
    for r in recipients:
        yield {
            "purpose": MessagePurpose.WEEKLY_DIGEST,
            "reference": ref,
            "recipient": r.email,
            "subscriber_id": r.subscriber_id,
            "subscription_id": r.subscription_id,
            "council_id": council.id,
            "digest_id": chosen.id,
        }
