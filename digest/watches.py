"""Topic watches (SPEC §12.3): a saved search over topics and/or keywords in some councils
(or all), mailed daily or weekly when the collector records new agenda items or decisions
that match. Asking for one and confirming it (double opt-in) is digest/watch_requests.py;
here are what is new, what matches, the alerts, and stopping watches.

Keywords are plain text matched as words: every word of a keyword must appear as a whole
word in the item's title, agenda text or decisions, in any order, ignoring case.

Functions here never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import suppressions
from digest.addresses import email_hash
from digest.config import Config
from digest.links import Links
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.mail.render import RenderedEmail, render_email
from digest.models import (
    AgendaItem,
    ChangeKind,
    Council,
    Meeting,
    MeetingChange,
    MeetingStatus,
    OutboxMessage,
    Subscriber,
    SubscriptionStatus,
    Watch,
)
from digest.site import Site
from digest.topics import taxonomy
from digest.weekly.meeting import heading_of, local_date, resolutions_of

FREQUENCIES = ("daily", "weekly")
ALERT_ITEMS = 40  # matches listed in one alert; the rest are counted
TEXT_CHARS = 4000

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("&", " and "))


@dataclass(frozen=True)
class WatchDescription:
    topics: list[str]
    keywords: list[str]
    councils: list[str]  # names; empty means every council
    frequency: str

    @property
    def councils_text(self) -> str:
        return ", ".join(self.councils) if self.councils else "every council"

    @property
    def what_text(self) -> str:
        parts = list(self.topics) + [f"“{k}”" for k in self.keywords]
        return ", ".join(parts)


def unsubscribe(session: Session, watch_id: int, now: datetime) -> Watch | None:
    """Stop a watch; idempotent (one-click unsubscribe may be sent more than once)."""
    watch = session.get(Watch, watch_id)
    if watch is None:
        return None
    if watch.status != SubscriptionStatus.UNSUBSCRIBED:
        watch.status = SubscriptionStatus.UNSUBSCRIBED
        watch.unsubscribed_at = now
        watch.confirm_nonce = None
    return watch


def unsubscribe_all(session: Session, subscriber_id: int, now: datetime) -> int:
    watches = session.scalars(
        sa.select(Watch).where(
            Watch.subscriber_id == subscriber_id, Watch.status != SubscriptionStatus.UNSUBSCRIBED
        )
    ).all()
    for watch in watches:
        unsubscribe(session, watch.id, now)
    return len(watches)


def watches_of(session: Session, subscriber_id: int) -> list[Watch]:
    return list(
        session.scalars(
            sa.select(Watch).where(Watch.subscriber_id == subscriber_id).order_by(Watch.id)
        )
    )


# Matching


@dataclass
class Candidate:
    """An agenda item or decision the collector recorded as new."""

    item_id: int
    seen_at: datetime
    council_id: int
    council_slug: str
    council_name: str
    meeting_id: int
    meeting_heading: str
    meeting_date: str
    source_url: str
    title: str
    decisions: list[str]
    topics: frozenset[str]
    words: frozenset[str] = field(repr=False)

    @property
    def is_decision(self) -> bool:
        return bool(self.decisions)


def new_since(session: Session, since: datetime, until: datetime, tz: Any) -> list[Candidate]:
    """Public items first stored in (since, until], and items of meetings whose minutes
    appeared then (with what they decided), one candidate per item at its latest news."""
    first_seen = sa.select(AgendaItem.id, AgendaItem.first_seen_at.label("seen")).where(
        AgendaItem.first_seen_at > since, AgendaItem.first_seen_at <= until
    )
    minutes = (
        sa.select(AgendaItem.id, MeetingChange.seen_at.label("seen"))
        .join(MeetingChange, MeetingChange.meeting_id == AgendaItem.meeting_id)
        .where(
            MeetingChange.kind == ChangeKind.MINUTES_PUBLISHED,
            MeetingChange.seen_at > since,
            MeetingChange.seen_at <= until,
        )
    )
    seen: dict[int, datetime] = {}
    union: Any = sa.union_all(first_seen, minutes)
    for row in session.execute(union).all():
        item_id, when = int(row[0]), row[1]
        if item_id not in seen or when > seen[item_id]:
            seen[item_id] = when
    found: list[Candidate] = []
    ids = sorted(seen)
    for start in range(0, len(ids), 500):
        loaded = session.execute(
            sa.select(AgendaItem, Meeting, Council)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .join(Council, Council.id == Meeting.council_id)
            .where(
                AgendaItem.id.in_(ids[start : start + 500]),
                AgendaItem.is_restricted.is_(False),
                Meeting.status != MeetingStatus.CANCELLED,
            )
        ).all()
        for item, meeting, council in loaded:
            decisions = resolutions_of(item)
            text = " ".join([item.title, item.agenda_text[:TEXT_CHARS], *decisions])
            found.append(
                Candidate(
                    item_id=item.id,
                    seen_at=seen[item.id],
                    council_id=council.id,
                    council_slug=council.slug,
                    council_name=council.name,
                    meeting_id=meeting.id,
                    meeting_heading=heading_of(meeting),
                    meeting_date=local_date(meeting.start_at, tz),
                    source_url=meeting.source_url,
                    title=item.title,
                    decisions=decisions,
                    topics=frozenset(item.topics or ()),
                    words=frozenset(words(text)),
                )
            )
    found.sort(key=lambda c: (c.council_name, c.meeting_date, c.item_id))
    return found


class Matcher:
    """Candidates indexed by topic, word and council, so thousands of watches are
    matched without comparing each with each item."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self.by_topic: dict[str, set[int]] = {}
        self.by_word: dict[str, set[int]] = {}
        self.by_council: dict[int, set[int]] = {}
        for n, c in enumerate(self.candidates):
            for slug in c.topics:
                self.by_topic.setdefault(slug, set()).add(n)
            for word in c.words:
                self.by_word.setdefault(word, set()).add(n)
            self.by_council.setdefault(c.council_id, set()).add(n)

    def match(
        self,
        topics: Iterable[str],
        keywords: Iterable[str],
        council_ids: Iterable[int],
        after: datetime | None = None,
    ) -> list[Candidate]:
        hits: set[int] = set()
        for slug in topics:
            hits |= self.by_topic.get(slug, set())
        for keyword in keywords:
            sets = [self.by_word.get(w, set()) for w in words(keyword)]
            if sets:
                hits |= set.intersection(*sets)
        councils = list(council_ids)
        if councils:
            allowed: set[int] = set()
            for council_id in councils:
                allowed |= self.by_council.get(council_id, set())
            hits &= allowed
        chosen = [self.candidates[n] for n in sorted(hits)]
        if after is not None:
            chosen = [c for c in chosen if c.seen_at > after]
        return chosen


@dataclass(frozen=True)
class AlertSettings:
    links: Links
    site: Site
    secret_key: str


@dataclass
class AlertRun:
    watches: int = 0
    alerts: int = 0
    matches: int = 0


def send_alerts(
    session: Session, frequency: str, now: datetime, settings: AlertSettings
) -> AlertRun:
    """Match every active watch of this frequency against what the collector recorded
    since the watch's window ended, and queue one alert per watch that matched (rendered
    when it is sent, from the matched items it names). Each watch's window then ends at
    `now`, so running again sends nothing twice."""
    run = AlertRun()
    watches = list(
        session.scalars(
            sa.select(Watch)
            .where(Watch.status == SubscriptionStatus.ACTIVE, Watch.frequency == frequency)
            .order_by(Watch.id)
        )
    )
    if not watches:
        return run
    since = min(w.matched_until or w.confirmed_at or now for w in watches)
    matcher = Matcher(new_since(session, since, now, settings.site.tz))
    emails = dict(
        session.execute(
            sa.select(Subscriber.id, Subscriber.email).where(
                Subscriber.id.in_({w.subscriber_id for w in watches})
            )
        ).all()
    )
    hashes = {e: email_hash(settings.secret_key, e) for e in emails.values()}
    suppressed = suppressions.which_suppressed(session, list(hashes.values()))
    rows: list[dict[str, Any]] = []
    stamp = int(now.timestamp())
    for watch in watches:
        run.watches += 1
        found = matcher.match(
            watch.topics or (), watch.keywords or (), watch.council_ids or (), watch.matched_until
        )
        watch.matched_until = now
        email = emails.get(watch.subscriber_id)
        if not found or email is None or hashes[email] in suppressed:
            continue
        run.alerts += 1
        run.matches += len(found)
        rows.append(
            {
                "purpose": MessagePurpose.WATCH_ALERT,
                "reference": f"watch:{watch.id}:{stamp}",
                "recipient": email,
                "subscriber_id": watch.subscriber_id,
                "watch_id": watch.id,
                "payload": {"items": [c.item_id for c in found], "count": len(found)},
            }
        )
        watch.last_sent_at = now
    outbox.enqueue_many(session, rows, now=now, domain=settings.site.domain)
    return run


def render_alert(
    session: Session, row: OutboxMessage, links: Links, mail_context: dict[str, Any], config: Any
) -> RenderedEmail | None:
    """A watch alert as of now, from the items its row names (None if nothing is left)."""
    watch = session.get(Watch, row.watch_id) if row.watch_id else None
    ids = list((row.payload or {}).get("items", []))
    if watch is None or not ids:
        return None
    tz = config.tz
    shown_ids = ids[:ALERT_ITEMS]
    loaded = session.execute(
        sa.select(AgendaItem, Meeting, Council)
        .join(Meeting, Meeting.id == AgendaItem.meeting_id)
        .join(Council, Council.id == Meeting.council_id)
        .where(AgendaItem.id.in_(shown_ids))
        .order_by(Council.name, Meeting.start_at, AgendaItem.position)
    ).all()
    if not loaded:
        return None
    tax = taxonomy()
    groups: dict[str, list[dict[str, Any]]] = {}
    for item, meeting, council in loaded:
        groups.setdefault(council.name, []).append(
            {
                "title": item.title,
                "decisions": resolutions_of(item)[:3],
                "meeting": heading_of(meeting),
                "date": local_date(meeting.start_at, tz),
                "page_url": links.meeting(council.slug, meeting.id),
                "source_url": meeting.source_url,
                "topics": [tax.title(s) for s in item.topics or []],
            }
        )
    count = int((row.payload or {}).get("count", len(ids)))
    description = WatchDescription(
        topics=[tax.title(s) for s in watch.topics or []],
        keywords=list(watch.keywords or []),
        councils=[],
        frequency=watch.frequency,
    )
    return render_email(
        "watch_alert",
        **mail_context,
        watch=description,
        groups=groups,
        count=count,
        hidden=count - len(loaded),
        manage_url=links.watch_manage(watch.id),
        unsubscribe_url=links.watch_unsubscribe(watch.id),
    )


def alert_settings(config: Config, links: Links) -> AlertSettings:
    return AlertSettings(
        links=links, site=Site.from_config(config), secret_key=config.site.secret_key
    )
