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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.addresses import email_hash
from digest.config import Config
from digest.links import Links, site_domain
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.models import (
    Council,
    CouncilStatus,
    Digest,
    DigestMeeting,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from digest.summaries.meeting import load_meetings
from digest.summaries.selection import select_meetings
from digest.summaries.weekly import Sections, SiteInfo, render_digest
from digest.summaries.weeks import IsoWeek

QUIET_SKIP = "skip"


@dataclass(frozen=True)
class BuildSettings:
    site: SiteInfo
    quiet_weeks: str
    domain: str
    secret_key: str

    @classmethod
    def from_config(cls, config: Config) -> BuildSettings:
        return cls(
            site=SiteInfo(
                name=config.site.name,
                base_url=config.site.base_url,
                contact_email=config.site.contact_email,
                tz=config.tz,
            ),
            quiet_weeks=config.digest.quiet_weeks,
            domain=site_domain(config.site.base_url, config.mail.from_address),
            secret_key=config.site.secret_key,
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
) -> CouncilBuild:
    digest = session.scalar(
        sa.select(Digest).where(Digest.council_id == council.id, Digest.week == week.label)
    )
    created = digest is None
    if digest is None:
        digest = _render_and_store(session, council, week, now, settings, links)
    queued = 0
    if not (digest.is_quiet and settings.quiet_weeks == QUIET_SKIP):
        queued = outbox.enqueue_many(
            session,
            _outbox_rows(session, council, digest, settings.secret_key),
            now=now,
            domain=settings.domain,
        )
    return CouncilBuild(
        slug=council.slug,
        digest_id=digest.id,
        created=created,
        quiet=digest.is_quiet,
        queued=queued,
    )


def _render_and_store(
    session: Session,
    council: Council,
    week: IsoWeek,
    now: datetime,
    settings: BuildSettings,
    links: Links,
) -> Digest:
    selection = select_meetings(session, council.id, week, settings.site.tz)
    loaded = {
        m.id: m
        for m in load_meetings(
            session,
            [i for _, ids in selection.sections() for i in ids],
        )
    }
    sections = Sections(
        reported=[loaded[i] for i in selection.reported],
        cancelled=[loaded[i] for i in selection.cancelled],
        minutes=[loaded[i] for i in selection.minutes],
        upcoming=[loaded[i] for i in selection.upcoming],
    )
    rendered = render_digest(council, week, sections, now=now, site=settings.site, links=links)
    digest = Digest(
        council_id=council.id,
        week=week.label,
        subject=rendered.email.subject,
        body_text=rendered.email.text,
        body_html=rendered.email.html,
        web_html=rendered.web_html,
        counts={**rendered.view.counts, "detail_level": rendered.view.level},
        is_quiet=selection.is_empty,
        built_at=now,
    )
    session.add(digest)
    session.flush()
    session.add_all(
        DigestMeeting(digest_id=digest.id, meeting_id=meeting_id, section=section)
        for section, ids in selection.sections()
        for meeting_id in ids
    )
    return digest


def _outbox_rows(
    session: Session, council: Council, digest: Digest, secret_key: str
) -> Iterator[dict[str, Any]]:
    """One row per subscription active when the digest was built, minus suppressed
    addresses (delivery checks both again at send time)."""
    recipients = session.execute(
        sa.select(Subscription.id, Subscription.subscriber_id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.council_id == council.id,
            Subscription.status == SubscriptionStatus.ACTIVE,
            Subscription.confirmed_at <= digest.built_at,
        )
        .order_by(Subscription.id)
    ).all()
    hashes = {email: email_hash(secret_key, email) for _, _, email in recipients}
    suppressed = _suppressed(session, list(hashes.values()))
    ref = reference(digest.id)
    for subscription_id, subscriber_id, email in recipients:
        if hashes[email] in suppressed:
            continue
        yield {
            "purpose": MessagePurpose.WEEKLY_DIGEST,
            "reference": ref,
            "recipient": email,
            "subscriber_id": subscriber_id,
            "subscription_id": subscription_id,
            "council_id": council.id,
            "digest_id": digest.id,
        }


def _suppressed(session: Session, hashes: list[str]) -> set[str]:
    """Which of these address hashes are suppressed: asked per council's recipients, so
    the cost follows the subscribers, not the size of the suppression list."""
    found: set[str] = set()
    for start in range(0, len(hashes), 500):
        found.update(
            session.scalars(
                sa.select(Suppression.email_hash).where(
                    Suppression.email_hash.in_(hashes[start : start + 500])
                )
            )
        )
    return found
