"""Double opt-in subscriptions: subscribe -> confirm -> (unsubscribe), plus the subscriber's
rights: export and erasure.

The public response to `subscribe` never depends on the address's state; what differs is
only which email (if any) is queued, and that email goes to the address itself.
Functions here never commit.
"""

from __future__ import annotations

import enum
import functools
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest import consent, demand, suppressions
from digest.addresses import email_hash, ip_hash, normalise_email
from digest.cache import TTLCache
from digest.config import Config, cron_trigger
from digest.db import UTCDateTime, is_postgres
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.models import (
    AdminAction,
    BounceEvent,
    ConsentEvent,
    ConsentEventKind,
    Council,
    CouncilStatus,
    EnablementRequest,
    OutboxMessage,
    SignupIntake,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
    Watch,
)
from digest.tokens import Purpose, TokenError, TokenExpired, Tokens

PENDING_LIFETIME = timedelta(days=7)


class LinkProblem(Exception):
    """A link from an email cannot be used; subclasses say why."""


class LinkInvalid(LinkProblem):
    pass


class LinkExpired(LinkProblem):
    pass


class LinkUsed(LinkProblem):
    def __init__(self, subscription: Subscription) -> None:
        super().__init__("link already used")
        self.subscription = subscription


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the consent record."""

    source: str
    ip: str | None


class SubscribeAction(enum.Enum):
    NOTHING = "nothing"  # suppressed after a bounce or complaint, or capped for the day
    CONFIRM = "confirm"  # new, pending or unsubscribed: (re)start and send a confirmation
    ALREADY = "already"  # active: tell the address it is already subscribed


@dataclass(frozen=True)
class SubscribePlan:
    address: str
    council_id: int
    council_slug: str
    kind: SubscriptionKind
    action: SubscribeAction


def plan_subscribe(
    session: Session,
    config: Config,
    *,
    council: Council,
    email: str,
    now: datetime,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> SubscribePlan:
    """Decide what a subscribe request does, by reading only (one query).

    Raises InvalidEmail for text that is not an address.
    """
    address = normalise_email(email)

    def plan(action: SubscribeAction) -> SubscribePlan:
        return SubscribePlan(address, council.id, council.slug, kind, action)

    # One query for the three facts the decision needs.
    # Through the session's connection: plain Core execution skips the ORM's machinery,
    # which costs more than these small statements on the busiest form.
    suppressed, sent_today, status = (
        session.connection()
        .execute(
            _PLAN_FACTS,
            {
                "email_hash": email_hash(config.site.secret_key, address),
                "email": address,
                "council_id": council.id,
                "purposes": [
                    MessagePurpose.CONFIRM_SUBSCRIPTION.value,
                    MessagePurpose.ALREADY_SUBSCRIBED.value,
                ],
                "since": now - timedelta(days=1),
            },
        )
        .one()
    )
    if suppressed is not None and SuppressionReason(suppressed) not in (
        suppressions.CLEARED_BY_CONFIRMATION
    ):
        return plan(SubscribeAction.NOTHING)
    if (sent_today or 0) >= config.mail.confirmations_per_day:
        # Someone is using our form to flood this inbox; stay silent until tomorrow.
        return plan(SubscribeAction.NOTHING)
    return plan(
        SubscribeAction.ALREADY
        if status == SubscriptionStatus.ACTIVE.value
        else SubscribeAction.CONFIRM
    )


_PLAN_FACTS = sa.select(
    sa.select(Suppression.reason)
    .where(Suppression.email_hash == sa.bindparam("email_hash"))
    .scalar_subquery(),
    sa.select(sa.func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.recipient == sa.bindparam("email"),
        OutboxMessage.purpose.in_(sa.bindparam("purposes", expanding=True)),
        OutboxMessage.created_at >= sa.bindparam("since", type_=UTCDateTime()),
    )
    .scalar_subquery(),
    sa.select(sa.cast(Subscription.status, sa.String))
    .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
    .where(
        Subscriber.email == sa.bindparam("email"),
        Subscription.council_id == sa.bindparam("council_id"),
    )
    .scalar_subquery(),
)


def apply_subscribe(
    session: Session, mail: MailQueue, plan: SubscribePlan, *, now: datetime, origin: Origin
) -> None:
    """Write what the plan decided, in a few statements that settle races themselves: if
    the subscription became active since the plan was made, the address is told it is
    already subscribed instead of being asked to confirm again."""
    if plan.action is SubscribeAction.NOTHING:
        return
    subscriber_id = ensure_subscriber(session, plan.address, now)
    reference_stamp = f"{now.timestamp():.6f}"
    subscription_id: int | None = None
    purpose = MessagePurpose.ALREADY_SUBSCRIBED
    if plan.action is SubscribeAction.CONFIRM:
        subscription_id = session.connection().scalar(
            _pending_upsert(_dialect(session)),
            {
                "subscriber_id": subscriber_id,
                "council_id": plan.council_id,
                "kind": plan.kind.value,
                "nonce": _nonce(),
                "now": now,
            },
        )
        if subscription_id is not None:
            purpose = MessagePurpose.CONFIRM_SUBSCRIPTION
            _record_ids(
                session,
                mail.config,
                subscriber_id,
                subscription_id,
                plan.council_slug,
                ConsentEventKind.REQUESTED,
                now,
                origin,
            )
    if subscription_id is None:
        subscription_id = session.connection().scalar(
            _SUBSCRIPTION_ID, {"subscriber_id": subscriber_id, "council_id": plan.council_id}
        )
        assert subscription_id is not None
    mail.queue_for_send_time(
        session,
        purpose=purpose,
        reference=f"subscription:{subscription_id}:{reference_stamp}",
        recipient=plan.address,
        now=now,
        subscriber_id=subscriber_id,
        subscription_id=subscription_id,
        council_id=plan.council_id,
    )


def subscribe(
    session: Session,
    mail: MailQueue,
    *,
    council: Council,
    email: str,
    now: datetime,
    origin: Origin,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> None:
    """Start (or restart) a subscription and queue the right email for the address, in
    one session. (Sign-ups from the web form reach the same two halves through
    digest.intake.)

    Raises InvalidEmail for text that is not an address; otherwise behaves the same from
    the outside whatever the address's state.
    """
    plan = plan_subscribe(session, mail.config, council=council, email=email, now=now, kind=kind)
    apply_subscribe(session, mail, plan, now=now, origin=origin)


def _dialect(session: Session) -> str:
    return "postgresql" if is_postgres(session) else "sqlite"


@functools.cache
def _pending_upsert(dialect: str) -> Any:
    """Insert a pending subscription, or put an existing one that is not active back to
    pending (keeping a pending one's nonce so earlier links still work); returns its id,
    or nothing when the subscription is active. Built once per dialect: constructing an
    upsert costs more than running it."""
    table = cast(sa.Table, Subscription.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table).values(
        subscriber_id=sa.bindparam("subscriber_id"),
        council_id=sa.bindparam("council_id"),
        kind=sa.bindparam("kind"),
        status=SubscriptionStatus.PENDING.value,
        confirm_nonce=sa.bindparam("nonce"),
        created_at=sa.bindparam("now", type_=UTCDateTime()),
        requested_at=sa.bindparam("now", type_=UTCDateTime()),
    )
    return stmt.on_conflict_do_update(
        index_elements=["subscriber_id", "council_id"],
        set_={
            "status": SubscriptionStatus.PENDING.value,
            "kind": stmt.excluded.kind,
            "requested_at": stmt.excluded.requested_at,
            "confirm_nonce": sa.func.coalesce(table.c.confirm_nonce, stmt.excluded.confirm_nonce),
        },
        where=table.c.status != SubscriptionStatus.ACTIVE.value,
    ).returning(table.c.id)


@functools.cache
def _subscriber_insert(dialect: str) -> Any:
    table = cast(sa.Table, Subscriber.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(table)
        .values(email=sa.bindparam("email"), created_at=sa.bindparam("now", type_=UTCDateTime()))
        .on_conflict_do_nothing(index_elements=["email"])
        .returning(table.c.id)
    )


_SUBSCRIBER_ID = sa.select(Subscriber.id).where(Subscriber.email == sa.bindparam("email"))
_SUBSCRIPTION_ID = sa.select(Subscription.id).where(
    Subscription.subscriber_id == sa.bindparam("subscriber_id"),
    Subscription.council_id == sa.bindparam("council_id"),
)


def ensure_subscriber(session: Session, address: str, now: datetime) -> int:
    """The subscriber id for an address, creating the row if needed (race-free)."""
    created = session.connection().scalar(
        _subscriber_insert(_dialect(session)), {"email": address, "now": now}
    )
    if created is not None:
        return int(created)
    found = session.connection().scalar(_SUBSCRIBER_ID, {"email": address})
    assert found is not None
    return int(found)


def add_confirmed(
    session: Session,
    mail: MailQueue,
    *,
    council: Council,
    email: str,
    now: datetime,
    origin: Origin,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> Subscription | None:
    """Subscribe an address whose owner has just proved it (a confirmation link or the
    manage page), so no second confirmation is needed. Queues the welcome email.

    Returns None for addresses suppressed after a bounce or complaint.
    """
    address = normalise_email(email)
    secret = mail.config.site.secret_key
    suppression = suppressions.find(session, secret, address)
    if suppression is not None and suppression.reason not in suppressions.CLEARED_BY_CONFIRMATION:
        return None
    subscriber = session.get_one(Subscriber, ensure_subscriber(session, address, now))
    subscription = session.scalar(
        sa.select(Subscription).where(
            Subscription.subscriber_id == subscriber.id, Subscription.council_id == council.id
        )
    )
    if subscription is not None and subscription.status == SubscriptionStatus.ACTIVE:
        if kind == SubscriptionKind.PROFESSIONAL:
            subscription.kind = kind
        return subscription
    if subscription is None:
        subscription = Subscription(
            subscriber_id=subscriber.id,
            council_id=council.id,
            kind=kind,
            status=SubscriptionStatus.PENDING,
            created_at=now,
            requested_at=now,
        )
        session.add(subscription)
        session.flush()
    subscription.kind = kind
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.requested_at = now
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    subscription.confirm_nonce = None
    _record(session, mail, subscription, council, ConsentEventKind.REQUESTED, now, origin)
    _record(session, mail, subscription, council, ConsentEventKind.CONFIRMED, now, origin)
    suppressions.clear_after_confirmation(session, secret, address)
    session.flush()
    _queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


def _nonce() -> str:
    return secrets.token_urlsafe(16)


def _record(
    session: Session,
    mail: MailQueue,
    subscription: Subscription,
    council: Council,
    event: ConsentEventKind,
    now: datetime,
    origin: Origin,
) -> None:
    _record_ids(
        session,
        mail.config,
        subscription.subscriber_id,
        subscription.id,
        council.slug,
        event,
        now,
        origin,
    )


def _record_ids(
    session: Session,
    config: Config,
    subscriber_id: int,
    subscription_id: int,
    council_slug: str,
    event: ConsentEventKind,
    now: datetime,
    origin: Origin,
) -> None:
    """Append to the consent record: what was agreed, when, where, in which words."""
    session.connection().execute(
        _CONSENT_INSERT,
        {
            "subscriber_id": subscriber_id,
            "subscription_id": subscription_id,
            "council_slug": council_slug,
            "event": event,
            "occurred_at": now,
            "source": origin.source[:300],
            "wording_version": consent.WORDING_VERSION,
            "wording_sha256": consent.WORDING_SHA256,
            "ip_hash": ip_hash(config.site.secret_key, origin.ip) if origin.ip else "",
        },
    )


_CONSENT_INSERT = sa.insert(ConsentEvent)


def read_nonce_link(tokens: Tokens, purpose: Purpose, token: str) -> tuple[int, str]:
    """(row id, nonce) from a single-use confirmation link; LinkProblem if it is forged,
    damaged or expired. Whether the nonce is still current is the caller's check."""
    try:
        payload = tokens.read(purpose, token)
    except TokenExpired as exc:
        raise LinkExpired(str(exc)) from exc
    except TokenError as exc:
        raise LinkInvalid(str(exc)) from exc
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        raise LinkInvalid("unexpected payload")
    return payload[0], payload[1]


def _id_and_secret(tokens: Tokens, purpose: Purpose, token: str) -> tuple[int, str | None]:
    """(row id, link secret) from a manage or unsubscribe link; None for the secret in
    links made before links carried one. LinkInvalid for anything not made by us."""
    try:
        payload = tokens.read(purpose, token)
    except TokenError as exc:
        raise LinkInvalid(str(exc)) from exc
    if isinstance(payload, int) and not isinstance(payload, bool):
        return payload, None
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        return payload[0], payload[1]
    raise LinkInvalid("unexpected payload")


def _secret_matches(subscriber: Subscriber, given: str | None) -> bool:
    # A link without a secret is from before links carried one: only subscribers from
    # then (whose secret is empty) accept it. Ids are never reused, so it names them.
    if given is None:
        return subscriber.link_secret == ""
    return hmac.compare_digest(subscriber.link_secret.encode(), given.encode())


def read_manage_link(session: Session, tokens: Tokens, token: str) -> Subscriber:
    """The subscriber a manage link belongs to; LinkInvalid when the link is not ours or
    its subscriber is gone (erased: the link died with the data)."""
    subscriber_id, secret = _id_and_secret(tokens, Purpose.MANAGE, token)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or not _secret_matches(subscriber, secret):
        raise LinkInvalid("no such subscriber")
    return subscriber


def read_unsubscribe_link(session: Session, tokens: Tokens, token: str) -> Subscription | None:
    """The subscription an unsubscribe link is for, or None when it no longer exists
    (the link is genuine, so the answer is still "unsubscribed"); LinkInvalid when the
    link is not ours."""
    subscription_id, secret = _id_and_secret(tokens, Purpose.UNSUBSCRIBE, token)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    subscriber = session.get_one(Subscriber, subscription.subscriber_id)
    return subscription if _secret_matches(subscriber, secret) else None


def read_confirm_link(session: Session, tokens: Tokens, token: str) -> Subscription:
    """The pending subscription a confirmation link is for; LinkProblem if it cannot be used."""
    subscription_id, nonce = read_nonce_link(tokens, Purpose.CONFIRM, token)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise LinkInvalid("no such subscription")
    if subscription.confirm_nonce is None or subscription.confirm_nonce != nonce:
        raise LinkUsed(subscription)
    return subscription


def confirm(
    session: Session, mail: MailQueue, *, token: str, now: datetime, origin: Origin
) -> Subscription:
    """Activate the subscription behind a confirmation link and queue the welcome email."""
    subscription = read_confirm_link(session, mail.links.tokens, token)
    council = session.get_one(Council, subscription.council_id)
    subscriber = session.get_one(Subscriber, subscription.subscriber_id)
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    subscription.confirm_nonce = None
    _record(session, mail, subscription, council, ConsentEventKind.CONFIRMED, now, origin)
    suppressions.clear_after_confirmation(session, mail.config.site.secret_key, subscriber.email)
    session.flush()
    _queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


def _queue_welcome(
    session: Session,
    mail: MailQueue,
    council: Council,
    subscription: Subscription,
    subscriber: Subscriber,
    now: datetime,
) -> None:
    mail.queue_for_send_time(
        session,
        purpose=MessagePurpose.WELCOME,
        reference=f"subscription:{subscription.id}:{now.timestamp():.6f}",
        recipient=subscriber.email,
        now=now,
        subscriber_id=subscriber.id,
        subscription_id=subscription.id,
        council_id=council.id,
    )


def welcome_context(
    session: Session,
    mail: MailQueue,
    council: Council,
    subscription: Subscription,
    now: datetime,
    figures: TTLCache,
) -> dict[str, Any]:
    config = mail.config
    secret = session.get_one(Subscriber, subscription.subscriber_id).link_secret
    context: dict[str, Any] = {
        "council": council,
        "enabled": council.status == CouncilStatus.ENABLED,
        "manage_url": mail.links.manage(subscription.subscriber_id, secret),
        "unsubscribe_url": mail.links.unsubscribe(subscription.id, secret),
        "council_url": mail.links.council(council.slug),
        "position": None,
        "next_digest": None,
    }
    if council.status == CouncilStatus.ENABLED:
        context["next_digest"] = next_digest_label(config, now)
    else:
        row = demand.find(
            demand.ranked(session, config.demand.professional_weight, figures), council.id
        )
        context["position"] = row.position if row else None
    return context


def next_digest_label(config: Config, now: datetime) -> str | None:
    """When the next weekly digest goes out, e.g. "Monday 23 November"."""
    trigger = cron_trigger(config.schedule.weekly_digest, config.tz)
    when = trigger.get_next_fire_time(None, now.astimezone(config.tz))
    return when.strftime("%A %-d %B") if when else None


def unsubscribe(
    session: Session, *, subscription_id: int, now: datetime, origin: Origin, secret_key: str
) -> Subscription | None:
    """Stop a subscription. Idempotent; None when it no longer exists (e.g. erased)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = now
        subscription.confirm_nonce = None
        council = session.get_one(Council, subscription.council_id)
        session.add(
            ConsentEvent(
                subscriber_id=subscription.subscriber_id,
                subscription_id=subscription.id,
                council_slug=council.slug,
                event=ConsentEventKind.UNSUBSCRIBED,
                occurred_at=now,
                source=origin.source[:300],
                ip_hash=ip_hash(secret_key, origin.ip) if origin.ip else "",
            )
        )
    return subscription


def unsubscribe_all(
    session: Session, *, subscriber_id: int, now: datetime, origin: Origin, secret_key: str
) -> int:
    ids = session.scalars(
        sa.select(Subscription.id).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
        )
    ).all()
    for subscription_id in ids:
        unsubscribe(
            session, subscription_id=subscription_id, now=now, origin=origin, secret_key=secret_key
        )
    return len(ids)


def subscriptions_of(session: Session, subscriber_id: int) -> list[tuple[Subscription, Council]]:
    rows = session.execute(
        sa.select(Subscription, Council)
        .join(Council, Council.id == Subscription.council_id)
        .where(Subscription.subscriber_id == subscriber_id)
        .order_by(Council.name)
    )
    return [(s, c) for s, c in rows]


def consent_record(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """The subscriber's consent events, oldest first."""
    return list(
        session.scalars(
            sa.select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(ConsentEvent.id)
        )
    )


def bounces_of(session: Session, subscriber_id: int) -> list[BounceEvent]:
    """Bounces and complaints recorded against the subscriber, oldest first."""
    return list(
        session.scalars(
            sa.select(BounceEvent)
            .where(BounceEvent.subscriber_id == subscriber_id)
            .order_by(BounceEvent.id)
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, subscriber_id: int) -> dict[str, Any]:
    """Everything we hold about a subscriber, for them to download (UK GDPR Art. 15/20)."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    return {
        "email": subscriber.email,
        "created_at": _iso(subscriber.created_at),
        "subscriptions": [
            {
                "council": council.slug,
                "council_name": council.name,
                "kind": s.kind.value,
                "status": s.status.value,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
                "topics": list(s.topics or []),
            }
            for s, council in subscriptions_of(session, subscriber_id)
        ],
        "topic_watches": [
            {
                "status": w.status.value,
                "frequency": w.frequency,
                "topics": list(w.topics or []),
                "keywords": list(w.keywords or []),
                "council_ids": list(w.council_ids or []),
                "created_at": _iso(w.created_at),
                "confirmed_at": _iso(w.confirmed_at),
                "unsubscribed_at": _iso(w.unsubscribed_at),
                "last_sent_at": _iso(w.last_sent_at),
            }
            for w in session.scalars(
                sa.select(Watch).where(Watch.subscriber_id == subscriber_id).order_by(Watch.id)
            )
        ],
        "consent_events": [
            {
                "event": e.event.value,
                "council": e.council_slug,
                "occurred_at": _iso(e.occurred_at),
                "source": e.source,
                "wording_version": e.wording_version,
                "wording_sha256": e.wording_sha256,
                "ip_hash": e.ip_hash,
            }
            for e in consent_record(session, subscriber_id)
        ],
        "emails": [
            {
                "purpose": m.purpose,
                "subject": m.subject,
                "status": m.status.value,
                "queued_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
                "message_id": m.message_id,
            }
            for m in session.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.subscriber_id == subscriber_id)
                .order_by(OutboxMessage.id)
            )
        ],
        "bounces": [
            {"kind": b.kind.value, "status_code": b.status_code, "occurred_at": _iso(b.occurred_at)}
            for b in bounces_of(session, subscriber_id)
        ],
        "enablement_requests": [
            {
                "council_id": r.council_id,
                "name": r.name,
                "organisation": r.organisation,
                "reason": r.reason,
                "status": r.status.value,
                "created_at": _iso(r.created_at),
            }
            for r in session.scalars(
                sa.select(EnablementRequest)
                .where(EnablementRequest.email == subscriber.email)
                .order_by(EnablementRequest.id)
            )
        ],
    }


# Every table that holds a subscriber's personal data, deleted on erasure. A test walks
# the schema and fails if a table referencing subscribers is missing here.
ERASED_TABLES = (BounceEvent, OutboxMessage, ConsentEvent, Subscription, Watch)


def _delete_subscriber(session: Session, subscriber_id: int) -> None:
    for model in ERASED_TABLES:
        session.execute(sa.delete(model).where(model.subscriber_id == subscriber_id))
    session.execute(sa.delete(Subscriber).where(Subscriber.id == subscriber_id))


def erase(session: Session, *, subscriber_id: int, now: datetime, secret_key: str) -> None:
    """Delete everything about a subscriber, keeping only a keyed hash of the address so
    it is never mailed again unless its owner subscribes and confirms anew."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    email = subscriber.email
    _delete_subscriber(session, subscriber_id)
    _erase_requests(session, email)
    # Mail to the address, and any other mail that names it (in any table, the
    # address is the one thing that identifies the person outside the rows above).
    session.execute(
        sa.delete(OutboxMessage).where(
            sa.or_(
                OutboxMessage.recipient == email,
                *(
                    column.contains(email, autoescape=True)
                    for column in (
                        OutboxMessage.subject,
                        OutboxMessage.body_text,
                        OutboxMessage.body_html,
                    )
                ),
            )
        )
    )
    session.execute(sa.delete(SignupIntake).where(SignupIntake.email == email))
    for column in (AdminAction.actor, AdminAction.target, AdminAction.detail):
        session.execute(
            sa.update(AdminAction)
            .where(column.contains(email, autoescape=True))
            .values({column.key: "(erased)"})
        )
    session.expunge(subscriber)
    suppressions.suppress(session, secret_key, email, SuppressionReason.ERASED, now)
    suppressions.forget_address(session, secret_key, email)


def _erase_requests(session: Session, email: str) -> None:
    """The person's professional requests and every copy of what they wrote: the mails
    about them (the admins' "New request" notices carry name, organisation and reason)
    and the notes admins wrote about them in the audit trail."""
    request_ids = list(
        session.scalars(sa.select(EnablementRequest.id).where(EnablementRequest.email == email))
    )
    if not request_ids:
        return
    session.execute(
        sa.delete(OutboxMessage).where(
            OutboxMessage.reference.in_([f"request:{i}" for i in request_ids])
        )
    )
    for request_id in request_ids:
        # Targets are written as "request <id> (<council>)" by the admin console.
        session.execute(
            sa.update(AdminAction)
            .where(AdminAction.target.startswith(f"request {request_id} ", autoescape=True))
            .values(detail="")
        )
    session.execute(sa.delete(EnablementRequest).where(EnablementRequest.id.in_(request_ids)))


def purge_unconfirmed(session: Session, now: datetime) -> int:
    """Forget subscriptions never confirmed within a week, sign-ups never acted on within
    a week (they gave up after errors), and people left with nothing."""
    cutoff = now - PENDING_LIFETIME
    session.execute(sa.delete(SignupIntake).where(SignupIntake.received_at < cutoff))
    stale = sa.select(Subscription.id).where(
        Subscription.status == SubscriptionStatus.PENDING, Subscription.requested_at < cutoff
    )
    stale_ids = list(session.scalars(stale))
    if stale_ids:
        session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.subscription_id.in_(stale_ids))
        )
        session.execute(sa.delete(Subscription).where(Subscription.id.in_(stale_ids)))
    # Topic watches never confirmed go the same way.
    stale_watches = sa.select(Watch.id).where(
        Watch.status == SubscriptionStatus.PENDING, Watch.created_at < cutoff
    )
    session.execute(sa.delete(OutboxMessage).where(OutboxMessage.watch_id.in_(stale_watches)))
    session.execute(
        sa.delete(Watch).where(
            Watch.status == SubscriptionStatus.PENDING, Watch.created_at < cutoff
        )
    )
    orphans = list(
        session.scalars(
            sa.select(Subscriber.id).where(
                ~sa.exists().where(Subscription.subscriber_id == Subscriber.id),
                ~sa.exists().where(Watch.subscriber_id == Subscriber.id),
            )
        )
    )
    for subscriber_id in orphans:
        _delete_subscriber(session, subscriber_id)
    session.execute(
        sa.delete(EnablementRequest).where(
            EnablementRequest.confirmed_at.is_(None), EnablementRequest.created_at < cutoff
        )
    )
    return len(stale_ids)


def send_manage_link(session: Session, mail: MailQueue, *, email: str, now: datetime) -> None:
    """Queue an email with a fresh manage link if `email` belongs to a subscriber; do
    nothing otherwise. The caller answers the same either way, so the form reveals
    nothing about who subscribes. At most one such email per address per day (the
    outbox's unique reference), so the form cannot be used to flood an inbox.

    Raises InvalidEmail for text that is not an address."""
    address = normalise_email(email)
    subscriber = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return
    mail.queue_for_send_time(
        session,
        purpose=MessagePurpose.MANAGE_LINK,
        reference=f"manage_link:{subscriber.id}:{now.date().isoformat()}",
        recipient=subscriber.email,
        now=now,
        subscriber_id=subscriber.id,
    )
