"""The circuit breaker (BNC-8) against a real SMTP server on loopback: a relay that
refuses everything costs `breaker_failures` messages, not the queue; every worker stops,
the admin sees why and can resume; failures among successes never trip it."""

from __future__ import annotations

import json
from datetime import timedelta

import sqlalchemy as sa

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
