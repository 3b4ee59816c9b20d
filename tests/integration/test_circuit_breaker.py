"""The circuit breaker (BNC-8) against a real SMTP server on loopback: a relay that
refuses everything costs `breaker_failures` messages, not the queue; every worker stops,
the admin sees why and can resume; failures among successes never trip it."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa
from click.testing import CliRunner

from digest.cli import CliState, main
from digest.mail import pauses
from digest.models import AdminAction, DomainPause, OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.conftest import make_app
from tests.integration.helpers import make_admin, queue_notice, run_delivery, with_mail
from tests.support.clock import Clock
from tests.support.smtp import SmtpSink
from tests.support.web import post_form, text

RELAY_DENIED = "550 5.7.1 Relaying denied: authentication required"


def breaker(rt: Runtime, failures: int = 5) -> Runtime:
    return with_mail(rt, breaker_failures=failures, breaker_pause_seconds=1800)


def states(rt: Runtime) -> dict[OutboxStatus, int]:
    with rt.read_sessions() as session:
        return dict(
            session.execute(
                sa.select(OutboxMessage.status, sa.func.count()).group_by(OutboxMessage.status)
            ).all()
        )


def queue(rt: Runtime, n: int) -> None:
    for i in range(n):
        queue_notice(rt, f"reader{i:02d}@example{i % 4}.net", "breaker")


def test_a_relay_refusing_everything_costs_five_messages_not_the_queue(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = breaker(smtp_rt)
    queue(rt, 20)
    smtp_sink.rcpt_reply = lambda _address: RELAY_DENIED
    report = run_delivery(rt)
    assert report.failed == 5 and report.sent == 0
    assert states(rt) == {OutboxStatus.FAILED: 5, OutboxStatus.PENDING: 15}
    with rt.read_sessions() as session:
        stopped = pauses.stopped_until(session, rt.now())
    assert stopped is not None
    until, reason = stopped
    assert until == rt.now() + timedelta(seconds=1800)
    assert reason.startswith("5 sends in a row failed") and "5.7.1" in reason

    # Every worker holds back: nothing is even claimed while the breaker is open.
    smtp_sink.rcpt_reply = None
    assert run_delivery(rt, worker="another-worker").handled == 0
    assert smtp_sink.messages == []

    # It closes by itself when the pause ends, and the held messages go out.
    clock.advance(seconds=1801)
    assert run_delivery(rt).sent == 15
    assert states(rt) == {OutboxStatus.FAILED: 5, OutboxStatus.SENT: 15}


def test_the_admin_sees_why_and_resumes_sending(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    rt = breaker(smtp_rt, failures=3)
    queue(rt, 6)
    smtp_sink.rcpt_reply = lambda _address: RELAY_DENIED
    run_delivery(rt)
    client = make_app(rt).test_client()

    health = json.loads(text(client.get("/healthz")))
    assert health["sending"].startswith("stopped until")
    assert "digest_sending_stopped 1.0" in text(client.get("/metrics"))

    make_admin(rt)
    form = {"email": "admin@councildigest.example.org", "password": "correct horse battery staple"}
    assert post_form(client, "/admin/login", "/admin/login", form).status_code == 303
    assert "All sending is stopped" in text(client.get("/admin/"))
    page = text(client.get("/admin/delivery"))
    assert "All sending is stopped" in page and "Relaying denied" in page
    assert "Receivers asked us to slow down" not in page

    smtp_sink.rcpt_reply = None  # the operator fixed the relay's password
    resumed = post_form(client, "/admin/delivery", "/admin/delivery/resume")
    assert resumed.status_code == 303
    assert "Sending resumes" in text(client.get(resumed.headers["Location"]))
    assert run_delivery(rt).sent == 3
    assert "digest_sending_stopped 0.0" in text(client.get("/metrics"))
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DomainPause)) == 0
        assert "sending.resume" in set(session.scalars(sa.select(AdminAction.action)))


def test_resuming_releases_the_held_messages_by_their_mark_not_their_text(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = breaker(smtp_rt, failures=3)
    queue(rt, 6)
    smtp_sink.rcpt_reply = lambda _address: RELAY_DENIED
    run_delivery(rt)
    with rt.sessions.begin() as session:
        held = list(
            session.scalars(sa.select(OutboxMessage.id).where(OutboxMessage.held_by_breaker))
        )
        assert held, "the batch's unsent messages are held back by the breaker"
        assert all(
            m.status == OutboxStatus.PENDING and m.next_attempt_at > clock.now
            for m in session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(held)))
        )
        # The operator-facing text is not what marks them.
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(held))
            .values(last_error="reworded by a later release")
        )
        # A message merely put off (a rate limit) is not released by resuming.
        other = session.scalars(
            sa.select(OutboxMessage).where(OutboxMessage.id.not_in(held))
        ).first()
        assert other is not None
        other.status = OutboxStatus.PENDING
        other.next_attempt_at = clock.now + timedelta(hours=1)
        other.last_error = pauses.HELD_BY_BREAKER
    with rt.sessions.begin() as session:
        assert pauses.resume_everything(session, clock.now)
    with rt.read_sessions() as session:
        released = session.scalars(sa.select(OutboxMessage).where(OutboxMessage.id.in_(held)))
        assert all(m.next_attempt_at <= clock.now and not m.held_by_breaker for m in released)
        still = session.get_one(OutboxMessage, other.id)
        assert still.next_attempt_at > clock.now


def test_failures_among_successes_never_trip_it(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    rt = breaker(smtp_rt, failures=3)
    queue(rt, 20)
    # Two unknown mailboxes in every three: never three failures in a row.
    smtp_sink.rcpt_reply = lambda address: (
        None if int(address[6:8]) % 3 == 0 else "550 5.1.1 no such user"
    )
    report = run_delivery(rt)
    assert (report.sent, report.failed) == (7, 13)
    with rt.read_sessions() as session:
        assert pauses.stopped_until(session, rt.now()) is None


def test_zero_turns_the_breaker_off(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    rt = breaker(smtp_rt, failures=0)
    queue(rt, 30)
    smtp_sink.rcpt_reply = lambda _address: RELAY_DENIED
    assert run_delivery(rt).failed == 30


def test_the_count_is_shared_by_every_worker(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    """Three failures on one worker and two on another trip a breaker set to five: the
    run of failures is counted in the database, not per worker."""
    rt = breaker(smtp_rt, failures=5)
    queue(rt, 20)
    smtp_sink.rcpt_reply = lambda _address: RELAY_DENIED
    first, second = (rt.mail_backend() for _ in range(2))
    try:
        assert rt.deliverer(first, worker="one").run_once(limit=3).failed == 3
        report = rt.deliverer(second, worker="two").run_once(limit=3)
    finally:
        first.close()
        second.close()
    assert (report.failed, report.deferred) == (2, 1)
    assert states(rt) == {OutboxStatus.FAILED: 5, OutboxStatus.PENDING: 15}
    with rt.read_sessions() as session:
        stopped = pauses.stopped_until(session, rt.now())
    assert stopped is not None and stopped[1].startswith("5 sends in a row failed")


def test_admin_requeues_failed_messages_from_a_chosen_time_seeing_why(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = breaker(smtp_rt, failures=4)
    queue(rt, 4)
    old = "reader99@example.net"
    queue_notice(rt, old, "older")
    smtp_sink.rcpt_reply = lambda _address: "554 5.7.1 relay access denied"
    run_delivery(rt)  # the four readers fail and trip the breaker; `old` is held back
    assert states(rt) == {OutboxStatus.FAILED: 4, OutboxStatus.PENDING: 1}
    with rt.sessions.begin() as session:
        # A failure from before the chosen time stays failed.
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.recipient == old)
            .values(status=OutboxStatus.FAILED, last_attempt_at=clock.now - timedelta(days=3))
        )
    client = make_app(rt).test_client()
    make_admin(rt)
    form = {"email": "admin@councildigest.example.org", "password": "correct horse battery staple"}
    assert post_form(client, "/admin/login", "/admin/login", form).status_code == 303
    since = (clock.now - timedelta(hours=1)).astimezone(rt.config.tz).strftime("%Y-%m-%dT%H:%M")
    page = text(client.get(f"/admin/delivery?since={since}"))
    assert "554 5.7.1 relay access denied" in page and "Send these again" in page

    smtp_sink.rcpt_reply = None  # the relay was fixed
    done = post_form(
        client, f"/admin/delivery?since={since}", "/admin/delivery/requeue", {"since": since}
    )
    assert done.status_code == 303
    assert "4 failed messages will be sent again" in text(client.get(done.headers["Location"]))
    assert states(rt) == {OutboxStatus.PENDING: 4, OutboxStatus.FAILED: 1}
    assert post_form(client, "/admin/delivery", "/admin/delivery/resume").status_code == 303
    assert run_delivery(rt).sent == 4
    with rt.read_sessions() as session:
        assert "outbox.requeue_failed" in set(session.scalars(sa.select(AdminAction.action)))


def test_send_requeues_failed_messages_since_a_time(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = breaker(smtp_rt, failures=0)
    queue(rt, 3)
    smtp_sink.rcpt_reply = lambda _address: "554 5.7.1 relay access denied"
    assert run_delivery(rt).failed == 3
    smtp_sink.rcpt_reply = None
    since = (clock.now - timedelta(minutes=5)).isoformat()
    result = CliRunner().invoke(
        main, ["send", "--requeue-failed-since", since], obj=CliState(None, rt)
    )
    assert result.exit_code == 0, result.output
    assert "Requeued 3 messages" in result.output
    assert "3 x 554 5.7.1 relay access denied" in result.output
    assert states(rt) == {OutboxStatus.SENT: 3}
    bad = CliRunner().invoke(
        main, ["send", "--requeue-failed-since", "last tuesday"], obj=CliState(None, rt)
    )
    assert bad.exit_code == 2 and "not an ISO 8601 time" in bad.output
