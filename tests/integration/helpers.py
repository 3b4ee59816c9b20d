"""Arranging data for integration tests through the real services."""

from __future__ import annotations

import sqlalchemy as sa

from digest import councils, subscriptions
from digest.models import Subscription
from digest.runtime import Runtime
from digest.subscriptions import Origin

ORIGIN = Origin(source="/tests", ip="127.0.0.1")


def active_subscription(rt: Runtime, email: str, slug: str) -> int:
    """Subscribe and confirm `email` to council `slug`; returns the subscription id."""
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        subscriptions.subscribe(
            session, rt.mail, council=council, email=email, now=rt.now(), origin=ORIGIN
        )
        subscription = session.scalars(
            sa.select(Subscription)
            .where(Subscription.council_id == council.id)
            .order_by(Subscription.id.desc())
        ).first()
        assert subscription is not None and subscription.confirm_nonce
        token = rt.links.confirm(subscription.id, subscription.confirm_nonce).rsplit("/", 1)[1]
        subscriptions.confirm(session, rt.mail, token=token, now=rt.now(), origin=ORIGIN)
        return subscription.id
