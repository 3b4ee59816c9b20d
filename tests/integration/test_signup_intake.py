"""The subscribe form only accepts a sign-up; the delivery loop acts on it. Nothing is
lost or doubled on the way, a sign-up that fails is kept and shown, and no personal data
outlives erasure or the weekly purge."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import subscriptions
from digest.addresses import ip_hash
from digest.models import (
    AdminAction,
    ConsentEvent,
    Council,
    OutboxMessage,
    SignupIntake,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.runtime import Runtime
from digest.subscriptions import signup
from tests.integration.helpers import (
    ORIGIN,
    active_subscription,
    deliver,
    full_metrics,
    make_admin,
    take_in,
)
from tests.support.clock import Clock
from tests.support.mail import maildir_messages, subject
from tests.support.web import post_form, text


def count(rt: Runtime, model: type) -> int:
    with rt.read_sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def accept(rt: Runtime, address: str, slug: str = "wigan") -> None:
    """A sign-up as the form accepts it; `address` is stored as given (the form has
    normalised it), which lets a test store one the loop will refuse."""
    with rt.read_sessions() as session:
        council_id = session.scalar(sa.select(Council.id).where(Council.slug == slug))
    assert council_id is not None
    with rt.single_statement_sessions.begin() as session:
        signup.accept(session, council_id=council_id, address=address, now=rt.now(), origin=ORIGIN)


def test_form_stores_one_row_and_the_loop_acts_on_it_as_of_then(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    sent_at = rt.now()
    response = post_form(
        client,
        "/councils/wigan",
        "/councils/wigan/subscribe",
        {"email": "  Person@Example.NET "},
        environ_base={"REMOTE_ADDR": "203.0.113.9"},
    )
    assert response.status_code == 303
    with rt.read_sessions() as session:
        row = session.scalars(sa.select(SignupIntake)).one()
        assert (row.email, row.source, row.ip, row.received_at, row.attempts) == (
            "person@example.net",
            "/councils/wigan/subscribe",
            "203.0.113.9",
            sent_at,
            0,
        )
    assert count(rt, Subscriber) == count(rt, OutboxMessage) == count(rt, ConsentEvent) == 0

    clock.advance(minutes=5)
    deliver(rt)  # the real delivery loop: takes the sign-up in, then sends
    assert count(rt, SignupIntake) == 0
    with rt.read_sessions() as session:
        subscription = session.scalars(sa.select(Subscription)).one()
        consent = session.scalars(sa.select(ConsentEvent)).one()
    assert subscription.status == SubscriptionStatus.PENDING
    # Recorded as of the moment the person asked, not when the loop got to it.
    assert subscription.requested_at == sent_at
    assert (consent.occurred_at, consent.source) == (sent_at, "/councils/wigan/subscribe")
    assert consent.ip_hash == ip_hash(rt.config.site.secret_key, "203.0.113.9")
    [message] = maildir_messages(rt.config.mail.maildir_path)
    assert subject(message).startswith("Confirm your subscription to Wigan")


def test_a_failing_signup_is_kept_with_its_error_and_holds_up_nothing(rt: Runtime) -> None:
    accept(rt, "first@example.net")
    accept(rt, "not an address")  # e.g. accepted under older validation rules
    accept(rt, "second@example.net")
    with rt.sessions.begin() as session:
        report = signup.take_in(session, rt.mail, now=rt.now())
    assert (report.taken, report.failed) == (2, 1)
    with rt.read_sessions() as session:
        assert set(session.scalars(sa.select(Subscriber.email))) == {
            "first@example.net",
            "second@example.net",
        }
        [row] = session.scalars(sa.select(SignupIntake))
    assert row.attempts == 1 and row.last_error.startswith("InvalidEmail")
    for _ in range(signup.MAX_ATTEMPTS + 2):
        with rt.sessions.begin() as session:
            signup.take_in(session, rt.mail, now=rt.now())
    with rt.read_sessions() as session:
        assert session.get_one(SignupIntake, row.id).attempts == signup.MAX_ATTEMPTS
        assert signup.waiting(session) == (0, 1)
    deliver(rt)  # the loop no longer trips over it
    assert count(rt, Subscriber) == 2


def test_a_stuck_signup_shows_in_metrics_and_the_admin_can_retry_it(
    client: FlaskClient, rt: Runtime
) -> None:
    accept(rt, "not an address")
    for _ in range(signup.MAX_ATTEMPTS):
        with rt.sessions.begin() as session:
            signup.take_in(session, rt.mail, now=rt.now())
    metrics = full_metrics(rt)
    assert 'digest_signups{state="stuck"} 1.0' in metrics
    assert 'digest_signups{state="waiting"} 0.0' in metrics

    make_admin(rt)
    form = {"email": "admin@councildigest.example.org", "password": "correct horse battery staple"}
    assert post_form(client, "/admin/login", "/admin/login", form).status_code == 303
    page = text(client.get("/admin/delivery"))
    assert "1 gave up" in page and "InvalidEmail" in page
    retried = post_form(client, "/admin/delivery", "/admin/delivery/signups/retry")
    assert retried.status_code == 303
    assert "1 sign-ups will be tried again" in text(client.get(retried.headers["Location"]))
    with rt.read_sessions() as session:
        assert signup.waiting(session) == (1, 0)
        assert "signups.retry" in set(session.scalars(sa.select(AdminAction.action)))


def test_taking_in_is_all_or_nothing(rt: Runtime) -> None:
    """A crash while acting on sign-ups (here: the transaction fails after the work)
    leaves them waiting, and the next round acts on each exactly once."""
    accept(rt, "one@example.net")
    accept(rt, "two@example.net")
    session = rt.sessions()
    try:
        assert signup.take_in(session, rt.mail, now=rt.now()).taken == 2
    finally:
        session.close()  # the process died before committing: rolled back
    assert count(rt, SignupIntake) == 2 and count(rt, Subscription) == 0
    take_in(rt)
    take_in(rt)
    assert count(rt, SignupIntake) == 0
    with rt.read_sessions() as session:
        purposes = list(session.scalars(sa.select(OutboxMessage.purpose)))
    assert purposes == ["confirm_subscription"] * 2


def test_the_same_address_twice_before_the_loop_runs(rt: Runtime, clock: Clock) -> None:
    accept(rt, "eager@example.net")
    clock.advance(seconds=1)
    accept(rt, "eager@example.net")
    active_subscription(rt, "keen@example.net", "wigan")
    accept(rt, "keen@example.net")
    take_in(rt)
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Subscription)) == 2
        sent = sorted(
            (m.recipient, m.purpose)
            for m in session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.purpose != "welcome")
            )
        )
    # Like two clicks on the form: two confirmation emails with the same link (the daily
    # cap bounds them); an active subscriber is told they are already subscribed (its
    # confirmation is the one that made it active).
    assert sent == [
        ("eager@example.net", "confirm_subscription"),
        ("eager@example.net", "confirm_subscription"),
        ("keen@example.net", "already_subscribed"),
        ("keen@example.net", "confirm_subscription"),
    ]


def test_erasure_forgets_waiting_signups(rt: Runtime) -> None:
    subscription_id = active_subscription(rt, "leaving@example.net", "wigan")
    accept(rt, "leaving@example.net", "leeds")
    accept(rt, "staying@example.net")
    with rt.sessions.begin() as session:
        subscriber_id = session.get_one(Subscription, subscription_id).subscriber_id
        subscriptions.erase(
            session,
            subscriber_id=subscriber_id,
            now=rt.now(),
            secret_key=rt.config.site.secret_key,
        )
    with rt.read_sessions() as session:
        assert list(session.scalars(sa.select(SignupIntake.email))) == ["staying@example.net"]


def test_single_statement_sessions_commit_each_statement_on_sqlite(rt: Runtime) -> None:
    """The form's one INSERT holds SQLite's write lock only while it runs: the statement
    commits by itself, before the session does. PostgreSQL, whose writers do not block
    one another, runs it as an ordinary transaction."""
    sqlite = rt.engine.dialect.name == "sqlite"
    session = rt.single_statement_sessions()
    try:
        council_id = session.scalar(sa.select(Council.id).where(Council.slug == "wigan"))
        assert council_id is not None
        signup.accept(
            session,
            council_id=council_id,
            address="early@example.net",
            now=rt.now(),
            origin=ORIGIN,
        )
        # Seen from another connection before the session commits, on SQLite only.
        assert count(rt, SignupIntake) == (1 if sqlite else 0)
        session.commit()
        assert count(rt, SignupIntake) == 1
    finally:
        session.close()


def test_signups_waiting_longer_than_a_week_are_forgotten_by_the_purge(
    rt: Runtime, clock: Clock
) -> None:
    accept(rt, "patient@example.net")
    clock.advance(days=6)
    with rt.sessions.begin() as session:
        subscriptions.purge_unconfirmed(session, rt.now())
    assert count(rt, SignupIntake) == 1
    clock.advance(days=1, seconds=1)
    with rt.sessions.begin() as session:
        subscriptions.purge_unconfirmed(session, rt.now())
    assert count(rt, SignupIntake) == 0
