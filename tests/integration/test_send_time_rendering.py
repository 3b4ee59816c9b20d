"""Subscription emails are rendered when sent, from the state at that moment."""

from __future__ import annotations

import sqlalchemy as sa

from digest import councils, subscriptions
from digest.models import OutboxMessage, OutboxStatus, Subscription, SubscriptionStatus
from digest.runtime import Runtime
from tests.integration.helpers import ORIGIN, confirm_subscription, deliver, pending_subscription
from tests.support.clock import Clock
from tests.support.mail import link_with, maildir_messages


def rows(rt: Runtime) -> list[OutboxMessage]:
    with rt.read_sessions() as session:
        return list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_rows_carry_no_body_until_sent(rt: Runtime, clock: Clock) -> None:
    subscription_id = pending_subscription(rt, "later@example.net", "wigan")
    [row] = rows(rt)
    assert (row.purpose, row.body_text, row.body_html) == ("confirm_subscription", None, None)
    clock.advance(hours=1)
    deliver(rt)
    [message] = maildir_messages(rt.config.mail.maildir_path)
    token = link_with(message, "/confirm/").rsplit("/", 1)[1]
    with rt.sessions.begin() as session:
        assert subscriptions.read_confirm_link(session, rt.tokens, token).id == subscription_id


def test_a_confirmation_no_longer_needed_is_not_sent(rt: Runtime) -> None:
    subscription_id = pending_subscription(rt, "quick@example.net", "wigan")
    confirm_subscription(rt, subscription_id)  # e.g. a second, earlier email's link
    deliver(rt)
    states = {r.purpose: (r.status, r.last_error) for r in rows(rt)}
    assert states["confirm_subscription"] == (
        OutboxStatus.SUPPRESSED,
        "not needed: already confirmed or withdrawn",
    )
    assert states["welcome"] == (OutboxStatus.SENT, None)


def test_a_plan_overtaken_by_a_confirmation_says_already_subscribed(rt: Runtime) -> None:
    subscription_id = pending_subscription(rt, "racer@example.net", "wigan")
    with rt.read_sessions() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        plan = subscriptions.plan_subscribe(
            session, rt.config, council=council, email="racer@example.net", now=rt.now()
        )
    assert plan.action is subscriptions.SubscribeAction.CONFIRM
    confirm_subscription(rt, subscription_id)  # lands between the plan and its apply
    with rt.sessions.begin() as session:
        subscriptions.apply_subscribe(session, rt.mail, plan, now=rt.now(), origin=ORIGIN)
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription_id).status == SubscriptionStatus.ACTIVE
    assert [r.purpose for r in rows(rt)][-1] == "already_subscribed"
