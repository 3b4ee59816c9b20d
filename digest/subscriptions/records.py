"""The writers of the subscription records, one way each: who subscribes
(`ensure_subscriber`), the subscription row (`request` puts it to pending, `activate`
and `withdraw` move it on) and the consent record (`record_consent`, the only writer of
consent events). Functions here never commit."""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import consent
from digest.addresses import ip_hash
from digest.db import UTCDateTime, dialect_of, fit, upsert_insert
from digest.models import (
    ConsentEvent,
    ConsentEventKind,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the consent record."""

    source: str
    ip: str | None


def _dialect(session: Session) -> str:
    return dialect_of(session)


@functools.cache
def _pending_upsert(dialect: str) -> Any:
    """Insert a pending subscription, or put an existing one that is not active back to
    pending (keeping a pending one's nonce so earlier links still work); returns its id,
    or nothing when the subscription is active. Built once per dialect: constructing an
    upsert costs more than running it."""
    table = cast(sa.Table, Subscription.__table__)
    stmt = upsert_insert(dialect, table).values(
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
    return (
        upsert_insert(dialect, table)
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


def subscription_id(session: Session, subscriber_id: int, council_id: int) -> int | None:
    """The id of the address's subscription to the council, if there is one."""
    found = session.connection().scalar(
        _SUBSCRIPTION_ID, {"subscriber_id": subscriber_id, "council_id": council_id}
    )
    return None if found is None else int(found)


def request(
    session: Session,
    *,
    subscriber_id: int,
    council_id: int,
    kind: SubscriptionKind,
    now: datetime,
) -> int | None:
    """Put the subscription to pending, creating it if needed, in one statement that
    settles races itself: its id, or None when it is active (nothing was written)."""
    found = session.connection().scalar(
        _pending_upsert(_dialect(session)),
        {
            "subscriber_id": subscriber_id,
            "council_id": council_id,
            "kind": kind.value,
            "nonce": _nonce(),
            "now": now,
        },
    )
    return None if found is None else int(found)


def activate(subscription: Subscription, now: datetime) -> None:
    """The owner of the address proved it: the subscription is active from now."""
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    subscription.confirm_nonce = None


def withdraw(subscription: Subscription, now: datetime) -> None:
    """The subscription stops (unsubscribed); its confirmation links stop working."""
    subscription.status = SubscriptionStatus.UNSUBSCRIBED
    subscription.unsubscribed_at = now
    subscription.confirm_nonce = None


def _nonce() -> str:
    return secrets.token_urlsafe(16)


def record_consent(
    session: Session,
    secret_key: str,
    *,
    subscriber_id: int,
    subscription_id: int,
    council_slug: str,
    event: ConsentEventKind,
    now: datetime,
    origin: Origin,
) -> None:
    """Append to the consent record: what was agreed, when, where, in which words (an
    unsubscription agrees to no words, so it names none)."""
    agreed = event is not ConsentEventKind.UNSUBSCRIBED
    session.connection().execute(
        _CONSENT_INSERT,
        {
            "subscriber_id": subscriber_id,
            "subscription_id": subscription_id,
            "council_slug": council_slug,
            "event": event,
            "occurred_at": now,
            "source": fit(ConsentEvent.source, origin.source),
            "wording_version": consent.WORDING_VERSION if agreed else "",
            "wording_sha256": consent.WORDING_SHA256 if agreed else "",
            "ip_hash": ip_hash(secret_key, origin.ip) if origin.ip else "",
        },
    )


_CONSENT_INSERT = sa.insert(ConsentEvent)
