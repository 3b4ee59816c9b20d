"""What bounces do to residents, end to end: a dead mailbox is suppressed within three
weekly digests, a refusal about us suppresses nobody and shows on the Delivery page,
an erased address that subscribes again is mailed again, and an address suppressed for
a bounce gets no confirmation while the admin's look-up says why (issue 13)."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import councils, subscriptions
from digest.bounces import record
from digest.bounces.process import BounceSummary, process_message
from digest.mail import pauses
from digest.mail.outbox import MessagePurpose
from digest.models import (
    BounceEvent,
    BounceKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    Subscription,
    Suppression,
    SuppressionReason,
)
from digest.runtime import Runtime
from tests.conftest import make_app
from tests.integration.helpers import (
    active_subscription,
    deliver,
    make_admin,
    take_in,
)
from tests.integration.test_bounces import fixture, is_suppressed
from tests.support.clock import Clock
from tests.support.digests import enqueue_digest, make_digest
from tests.support.mail import link_with, path_of, subject
from tests.support.smtp import SmtpSink
from tests.support.web import post_form, subscribe, text

ADMIN = ("admin@councildigest.example.org", "correct horse battery staple")


def bounce_back(rt: Runtime, name: str, row_id: int, *, rules: record.Rules | None = None) -> str:
    """Process fixture `name` (a Postfix DSN) as the bounce of outbox row `row_id`,
    dated an hour after now; the summary line."""
    with rt.sessions.begin() as session:
        row = session.get_one(OutboxMessage, row_id)
        raw = fixture(name, rt, {n: row for n in (1, 2, 3, 4, 5)})
        raw = raw.replace(
            b"Date: Fri, 20 Nov 2026 09:00:02 +0000 (UTC)",
            f"Date: {format_datetime(rt.now() + timedelta(hours=1))}".encode(),
        )
        summary = BounceSummary()
        process_message(
            session,
            raw,
            secret_key=rt.config.site.secret_key,
            now=rt.now() + timedelta(hours=1),
            summary=summary,
            rules=rules or record.Rules.of(rt.config.mail),
        )
        return summary.line()


def weekly_digest(rt: Runtime, subscription_id: int, week: str) -> int | None:
    """Build and send `week`'s digest to the subscription; the outbox row if it was sent."""
    with rt.sessions.begin() as session:
        subscription = session.get_one(Subscription, subscription_id)
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        email = session.get_one(Subscriber, subscription.subscriber_id).email
        digest = make_digest(session, council, week, rt.now())
        enqueue_digest(session, digest, subscription, email, rt.now())
    deliver(rt)
    with rt.read_sessions() as session:
        row = session.scalars(
            sa.select(OutboxMessage)
            .where(OutboxMessage.purpose == MessagePurpose.WEEKLY_DIGEST.value)
            .order_by(OutboxMessage.id.desc())
        ).first()
        assert row is not None
        return row.id if row.status == OutboxStatus.SENT else None


def test_a_full_mailbox_is_suppressed_after_three_weekly_digests(rt: Runtime, clock: Clock) -> None:
    full = active_subscription(rt, "full@example.net", "wigan")
    flaky = active_subscription(rt, "flaky@example.net", "wigan")
    deliver(rt)  # the welcome emails arrive

    for n, week in enumerate(("2026-W50", "2026-W51", "2026-W52"), start=1):
        row = weekly_digest(rt, full, week)
        assert row is not None
        assert "1 soft" in bounce_back(rt, "postfix_full_5.2.2.eml", row)
        expected = SuppressionReason.SOFT_BOUNCE if n == 3 else None
        assert is_suppressed(rt, "full@example.net") == expected, week
        clock.now += timedelta(days=7)

    # The fourth week's digest is not sent to the suppressed address.
    assert weekly_digest(rt, full, "2026-W53") is None

    # A digest that arrived between failures starts the count again.
    rows = [weekly_digest(rt, flaky, week) for week in ("2027-W01", "2027-W02", "2027-W03")]
    assert all(rows)
    with rt.sessions.begin() as session:
        digests = list(
            session.scalars(
                sa.select(OutboxMessage.id)
                .where(OutboxMessage.recipient == "flaky@example.net")
                .where(OutboxMessage.purpose == MessagePurpose.WEEKLY_DIGEST.value)
                .order_by(OutboxMessage.id)
            )
        )
    first, delivered, third = digests[-3:]
    bounce_back(rt, "postfix_full_5.2.2.eml", first)
    bounce_back(rt, "postfix_full_5.2.2.eml", third)
    assert is_suppressed(rt, "flaky@example.net") is None
    assert delivered


def refusals_about_us(rt: Runtime) -> tuple[int, int]:
    """(hard_bounce suppressions, about_us events) so far."""
    with rt.read_sessions() as session:
        events = session.scalar(
            sa.select(sa.func.count()).where(BounceEvent.kind == BounceKind.ABOUT_US)
        )
        suppressed = session.scalar(sa.select(sa.func.count()).select_from(Suppression))
    return int(suppressed or 0), int(events or 0)


def test_refusals_about_us_suppress_nobody_and_show_on_the_delivery_page(
    rt: Runtime, client: FlaskClient
) -> None:
    active_subscription(rt, "listed@example.net", "wigan")
    active_subscription(rt, "sender@example.net", "wigan")
    deliver(rt)
    with rt.read_sessions() as session:
        welcome = {
            m.recipient: m.id
            for m in session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)
            )
        }
    # A blocklist refusal sent as 5.7.1 ...
    assert "1 about_us" in bounce_back(
        rt, "postfix_policy_5.7.1.eml", welcome["listed@example.net"]
    )
    # ... and a 5.1.8 "sender address rejected", which the old table read as 5.1.x: hard.
    with rt.sessions.begin() as session:
        row = session.get_one(OutboxMessage, welcome["sender@example.net"])
        raw = fixture("postfix_hard_5.1.1.eml", rt, {1: row})
    raw = raw.replace(b"Status: 5.1.1", b"Status: 5.1.8").replace(
        b"550 5.1.1 <nosuchuser@example.net>: Recipient address rejected: User unknown in"
        b" virtual mailbox table",
        b"553 5.1.8 <bounces@councildigest.example.org>: Sender address rejected: Domain not found",
    )
    assert b"5.1.8" in raw and b"Sender address rejected" in raw
    with rt.sessions.begin() as session:
        summary = BounceSummary()
        process_message(
            session, raw, secret_key=rt.config.site.secret_key, now=rt.now(), summary=summary
        )
    assert summary.counts == {"about_us": 1}, summary.details
    assert refusals_about_us(rt) == (0, 2)

    make_admin(rt, *ADMIN)
    post_form(client, "/admin/login", "/admin/login", {"email": ADMIN[0], "password": ADMIN[1]})
    page = text(client.get("/admin/delivery"))
    assert "Refusals about us" in page
    assert "blocked using" in page and "5.7.1" in page
    assert "Sender address rejected" in page and "5.1.8" in page
    assert "2 about us" in page


def test_a_burst_of_refusals_about_us_stops_all_sending(rt: Runtime, clock: Clock) -> None:
    rules = record.Rules(soft_limit=3, about_us_burst=3, pause_seconds=1800)
    for n in range(3):
        active_subscription(rt, f"r{n}@example.net", "wigan")
    deliver(rt)
    with rt.read_sessions() as session:
        rows = list(
            session.scalars(
                sa.select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENT)
            )
        )
    bounce_back(rt, "postfix_policy_5.7.1.eml", rows[0], rules=rules)
    bounce_back(rt, "postfix_policy_5.7.1.eml", rows[1], rules=rules)
    with rt.read_sessions() as session:
        assert pauses.stopped_until(session, rt.now() + timedelta(hours=1)) is None
    bounce_back(rt, "postfix_policy_5.7.1.eml", rows[2], rules=rules)
    with rt.read_sessions() as session:
        stopped = pauses.stopped_until(session, rt.now() + timedelta(hours=1))
    assert stopped is not None and "3 refusals about us" in stopped[1]
    assert refusals_about_us(rt) == (0, 3)


def test_erase_then_subscribe_again_gets_the_welcome_over_smtp(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = smtp_rt
    client = make_app(rt).test_client()
    email = "back-again@example.net"
    active_subscription(rt, email, "wigan")
    deliver(rt)
    with rt.sessions.begin() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
        subscriptions.erase(
            session, subscriber_id=subscriber_id, now=rt.now(), secret_key=rt.config.site.secret_key
        )
    smtp_sink.messages.clear()

    assert subscribe(client, "wigan", email).status_code == 303
    take_in(rt)
    deliver(rt)
    [confirmation] = smtp_sink.to(email)
    assert subject(confirmation.message).startswith("Confirm your subscription")
    confirm_url = link_with(confirmation.message, "/confirm/")
    assert post_form(client, path_of(confirm_url), path_of(confirm_url)).status_code == 303
    deliver(rt)
    welcome = smtp_sink.to(email)[1].message
    assert subject(welcome) == "You're on the waitlist for Wigan Metropolitan Borough Council"


def test_no_confirmation_to_a_hard_bounced_address_and_the_admin_sees_why(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = smtp_rt
    client = make_app(rt).test_client()
    email = "nosuchuser@example.net"
    active_subscription(rt, email, "wigan")
    deliver(rt)
    with rt.read_sessions() as session:
        row_id = session.scalars(
            sa.select(OutboxMessage.id).where(OutboxMessage.status == OutboxStatus.SENT)
        ).one()
    assert "1 hard" in bounce_back(rt, "postfix_hard_5.1.1.eml", row_id)
    # They erase their data, then someone subscribes the address again.
    with rt.sessions.begin() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
        subscriptions.erase(
            session, subscriber_id=subscriber_id, now=rt.now(), secret_key=rt.config.site.secret_key
        )
    assert is_suppressed(rt, email) == SuppressionReason.HARD_BOUNCE
    with rt.read_sessions() as session:
        # Only the keyed hash and the reason outlive erasure, not the address.
        kept = session.scalars(sa.select(Suppression)).one()
        assert email not in kept.detail and "User unknown" in kept.detail
        assert session.scalar(sa.select(sa.func.count()).select_from(BounceEvent)) == 0
    smtp_sink.messages.clear()
    assert subscribe(client, "wigan", email).status_code == 303
    take_in(rt)
    deliver(rt)
    assert smtp_sink.to(email) == []

    make_admin(rt, *ADMIN)
    post_form(client, "/admin/login", "/admin/login", {"email": ADMIN[0], "password": ADMIN[1]})
    page = text(client.get("/admin/subscribers", query_string={"email": email}))
    assert "suppressed (hard bounce" in page
    assert "subscribing again sends no confirmation" in page
    assert "5.1.1" in page and "User unknown" in page
