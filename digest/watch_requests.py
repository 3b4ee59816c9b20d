"""Asking for a topic watch (SPEC §12.3): the form's input (keywords as plain words, never
regular expressions or queries; a keyword made only of words that appear everywhere,
"council", "the", "report", is refused), the pending watch and its confirmation email,
and confirming it (double opt-in). What a watch then matches and the alerts it sends are
in digest/watches.py.

Functions here never commit; the caller owns the transaction.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import subscriptions, suppressions
from digest.links import Links
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.mail.render import render_email
from digest.models import Council, OutboxMessage, Subscriber, SubscriptionStatus, Watch
from digest.topics import taxonomy, valid_selection
from digest.watches import WatchDescription, words

KEYWORD_CHARS = 60
CONFIRMS_PER_DAY = 3  # confirmation emails to one address in 24 hours
CONFIRM_HOURS = 72
_PLAIN = re.compile(r"^[\w\s&'’./()-]+$")
# Words in nearly every agenda: a keyword made only of these would match everything.
COMMON_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "council",
        "councils",
        "committee",
        "committees",
        "meeting",
        "meetings",
        "report",
        "reports",
        "item",
        "items",
        "agenda",
        "minutes",
        "update",
        "updates",
        "members",
        "member",
        "officer",
        "officers",
        "decision",
        "decisions",
        "approve",
        "approved",
        "note",
        "noted",
        "consider",
        "considered",
        "local",
        "borough",
        "district",
        "county",
        "city",
        "cabinet",
        "executive",
        "year",
        "annual",
        "plan",
        "review",
        "policy",
    ]
)


class WatchInputError(ValueError):
    """Something in the watch form that we cannot accept; the message says what."""


def parse_keywords(raw: str, max_keywords: int) -> list[str]:
    """Keywords from the form: separated by commas or new lines, plain text only."""
    found: list[str] = []
    seen: set[str] = set()
    for part in re.split(r"[,\n;]+", raw):
        keyword = " ".join(part.split())
        if not keyword:
            continue
        if len(keyword) > KEYWORD_CHARS:
            raise WatchInputError(
                f"Keywords can be at most {KEYWORD_CHARS} characters; "
                f"“{keyword[:KEYWORD_CHARS]}…” is longer."
            )
        if not _PLAIN.match(keyword):
            raise WatchInputError(
                f"“{keyword}” has characters we do not use. Keywords are plain words: "
                "letters, numbers, spaces and hyphens."
            )
        kw_words = words(keyword)
        if not kw_words:
            raise WatchInputError(f"“{keyword}” has no letters or numbers in it.")
        if all(w in COMMON_WORDS or len(w) < 2 for w in kw_words):
            raise WatchInputError(
                f"“{keyword}” would match almost every agenda item. "
                "Use a more specific word or phrase."
            )
        if keyword.lower() not in seen:
            seen.add(keyword.lower())
            found.append(keyword)
    if len(found) > max_keywords:
        raise WatchInputError(f"A watch can have at most {max_keywords} keywords.")
    return found


def check_watch(topics: Sequence[str], keywords: Sequence[str]) -> None:
    if not topics and not keywords:
        raise WatchInputError("Choose at least one topic or give at least one keyword.")
    if not keywords and len(topics) == len(taxonomy().slugs):
        raise WatchInputError(
            "Every topic together matches almost everything. Choose the topics you follow, "
            "or add keywords."
        )


def request_watch(
    session: Session,
    *,
    email: str,
    topics: Sequence[str],
    keywords: Sequence[str],
    council_ids: Sequence[int],
    frequency: str,
    now: datetime,
    ip_hash: str,
    links: Links,
    mail_context: dict[str, Any],
    secret_key: str,
    domain: str,
) -> Watch | None:
    """Record a pending watch and queue its confirmation email. Returns None, having done
    nothing, for a suppressed address or one that had its share of confirmation emails
    today: the person at the form sees the same answer either way."""
    found = suppressions.find(session, secret_key, email)
    if found is not None and found.reason not in suppressions.CLEARED_BY_CONFIRMATION:
        return None
    sent_today = session.scalar(
        sa.select(sa.func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.recipient == email,
            OutboxMessage.purpose == MessagePurpose.CONFIRM_WATCH,
            OutboxMessage.created_at > now - timedelta(days=1),
        )
    )
    if (sent_today or 0) >= CONFIRMS_PER_DAY:
        return None
    subscriber_id = subscriptions.ensure_subscriber(session, email, now)
    watch = Watch(
        subscriber_id=subscriber_id,
        status=SubscriptionStatus.PENDING,
        frequency=frequency,
        topics=valid_selection(topics),
        keywords=list(keywords),
        council_ids=sorted(set(council_ids)),
        confirm_nonce=secrets.token_hex(16),
        created_at=now,
        ip_hash=ip_hash,
    )
    session.add(watch)
    session.flush()
    assert watch.confirm_nonce is not None
    rendered = render_email(
        "confirm_watch",
        **mail_context,
        watch=describe(session, watch),
        confirm_url=links.watch_confirm(watch.id, watch.confirm_nonce),
        expires_hours=CONFIRM_HOURS,
    )
    outbox.enqueue(
        session,
        purpose=MessagePurpose.CONFIRM_WATCH,
        reference=f"watch:{watch.id}",
        recipient=email,
        now=now,
        domain=domain,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        subscriber_id=subscriber_id,
        watch_id=watch.id,
    )
    return watch


def describe(session: Session, watch: Watch) -> WatchDescription:
    tax = taxonomy()
    names: list[str] = []
    if watch.council_ids:
        names = list(
            session.scalars(
                sa.select(Council.name)
                .where(Council.id.in_(list(watch.council_ids)))
                .order_by(Council.name)
            )
        )
    return WatchDescription(
        topics=[tax.title(s) for s in watch.topics or []],
        keywords=list(watch.keywords or []),
        councils=names,
        frequency=watch.frequency,
    )


class WatchLinkProblem(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # "used" or "invalid"


def confirm(session: Session, watch_id: int, nonce: str, now: datetime, secret_key: str) -> Watch:
    """Make a pending watch active; matching starts from now. Confirming lifts an
    erasure's suppression, as confirming a subscription does."""
    watch = session.get(Watch, watch_id)
    if watch is None:
        raise WatchLinkProblem("invalid")
    if watch.status == SubscriptionStatus.ACTIVE or watch.confirm_nonce != nonce:
        raise WatchLinkProblem("used" if watch.status == SubscriptionStatus.ACTIVE else "invalid")
    watch.status = SubscriptionStatus.ACTIVE
    watch.confirm_nonce = None
    watch.confirmed_at = now
    watch.matched_until = now
    subscriber = session.get_one(Subscriber, watch.subscriber_id)
    suppressions.clear_after_confirmation(session, secret_key, subscriber.email)
    return watch
