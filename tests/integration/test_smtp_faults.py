"""The delivery engine against a real SMTP server (aiosmtpd on loopback) that fails in
scripted ways. Each fault must end in the right state with nothing lost."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import AuthResult, LoginPassword

from digest import suppressions
from digest.mail import claims
from digest.mail.backends import SmtpBackend
from digest.mail.delivery import Deliverer
from digest.models import BounceEvent, BounceKind, DomainPause, OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.integration.helpers import queue_notice, run_delivery, with_mail
from tests.support.clock import Clock
from tests.support.smtp import SmtpSink, start_sink
from tests.support.tlscerts import make_ca_and_server_cert


def enqueue(rt: Runtime, *recipients: str, reference: str = "notice") -> None:
    for recipient in recipients:
        queue_notice(rt, recipient, reference)


def rows(rt: Runtime) -> dict[str, OutboxMessage]:
    with rt.read_sessions() as session:
        return {m.recipient: m for m in session.scalars(sa.select(OutboxMessage))}


def bounce_kinds(rt: Runtime) -> list[BounceKind]:
    with rt.read_sessions() as session:
        return list(session.scalars(sa.select(BounceEvent.kind).order_by(BounceEvent.id)))


def suppressed(rt: Runtime, address: str) -> bool:
    with rt.read_sessions() as session:
        return suppressions.is_suppressed(session, rt.config.site.secret_key, address)


def test_451_and_452_are_retried_with_backoff_and_then_delivered(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.rcpt_reply = lambda a: {
        "busy@example.net": "451 4.3.0 try again later",
        "full@example.net": "452 4.2.2 mailbox full",
    }.get(a)
    enqueue(smtp_rt, "busy@example.net", "full@example.net", "fine@example.net")
    report = run_delivery(smtp_rt)
    assert (report.sent, report.retried, report.failed) == (1, 2, 0)
    state = rows(smtp_rt)
    for who, code in (("busy", "451"), ("full", "452")):
        row = state[f"{who}@example.net"]
        assert row.status == OutboxStatus.PENDING and row.attempts == 1
        assert code in (row.last_error or "")
        # First retry after about five minutes, with jitter.
        assert clock.now + timedelta(seconds=239) <= row.next_attempt_at
        assert row.next_attempt_at <= clock.now + timedelta(seconds=361)
    assert run_delivery(smtp_rt).handled == 0  # nothing is due before the backoff ends
    smtp_sink.rcpt_reply = None
    clock.advance(minutes=7)
    assert run_delivery(smtp_rt).sent == 2
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "busy@example.net",
        "fine@example.net",
        "full@example.net",
    ]
    assert bounce_kinds(smtp_rt) == []  # transient refusals are not bounces


def test_421_mid_session_reconnects_and_pauses_only_that_domain_group(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.rcpt_reply = lambda a: (
        "421 4.7.28 Our system has detected an unusual rate of mail" if "gmail" in a else None
    )
    enqueue(
        smtp_rt,
        "first@example.org",
        "anna@gmail.com",
        "second@example.org",
        "bob@googlemail.com",
        "third@example.org",
    )
    report = run_delivery(smtp_rt)
    assert (report.sent, report.retried, report.deferred) == (3, 1, 1)
    # smtplib closed the connection on the 421; the next messages used a new one.
    assert len({m.peer for m in smtp_sink.messages}) == 2
    state = rows(smtp_rt)
    pause_ends = clock.now + timedelta(seconds=smtp_rt.config.mail.domain_pause_seconds)
    anna, bob = state["anna@gmail.com"], state["bob@googlemail.com"]
    assert anna.status == OutboxStatus.PENDING and anna.next_attempt_at >= pause_ends
    # googlemail.com is the same provider: held back without an attempt.
    assert "bob@googlemail.com" not in smtp_sink.rcpt_attempts
    assert bob.status == OutboxStatus.PENDING and bob.attempts == 0
    assert bob.next_attempt_at == pause_ends
    with smtp_rt.read_sessions() as session:
        pause = session.get_one(DomainPause, "gmail")
        assert pause.paused_until == pause_ends and "4.7.28" in pause.reason

    # The pause is shared: another worker holds gmail back too, and sends the rest.
    enqueue(smtp_rt, "carol@gmail.com", "fourth@example.org", reference="later")
    report = run_delivery(smtp_rt, worker="another-worker")
    assert (report.sent, report.deferred) == (1, 1)
    assert "carol@gmail.com" not in smtp_sink.rcpt_attempts

    smtp_sink.rcpt_reply = None
    clock.set(anna.next_attempt_at + timedelta(seconds=1))
    assert run_delivery(smtp_rt).sent == 3
    assert len(smtp_sink.messages) == 7  # everything arrived exactly once
    assert len({m.rcpt_tos[0] for m in smtp_sink.messages}) == 7


def test_550_5_1_1_fails_suppresses_and_blocks_queued_mail(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    smtp_sink.rcpt_reply = lambda a: (
        "550 5.1.1 <gone@example.net>: no such user" if "gone" in a else None
    )
    enqueue(smtp_rt, "gone@example.net")
    enqueue(smtp_rt, "gone@example.net", reference="second")
    report = run_delivery(smtp_rt)
    assert (report.failed, report.suppressed, report.sent) == (1, 1, 0)
    with smtp_rt.read_sessions() as session:
        states = [
            (m.status, m.last_error)
            for m in session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id))
        ]
    assert states[0][0] == OutboxStatus.FAILED and "5.1.1" in (states[0][1] or "")
    assert states[1] == (OutboxStatus.SUPPRESSED, "address is suppressed")
    assert smtp_sink.rcpt_attempts == ["gone@example.net"]  # the second was never tried
    assert suppressed(smtp_rt, "gone@example.net")
    assert bounce_kinds(smtp_rt) == [BounceKind.HARD]


def test_552_is_temporary(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    smtp_sink.rcpt_reply = lambda a: "552 5.2.2 mailbox over quota"
    enqueue(smtp_rt, "quota@example.net")
    assert run_delivery(smtp_rt).retried == 1
    row = rows(smtp_rt)["quota@example.net"]
    assert row.status == OutboxStatus.PENDING and "552" in (row.last_error or "")
    assert not suppressed(smtp_rt, "quota@example.net")


def test_554_5_7_1_is_reported_not_suppressed(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    smtp_sink.data_reply = lambda data, rcpts: "554 5.7.1 Message rejected as spam"
    enqueue(smtp_rt, "strict@example.net")
    assert run_delivery(smtp_rt).failed == 1
    assert rows(smtp_rt)["strict@example.net"].status == OutboxStatus.FAILED
    assert bounce_kinds(smtp_rt) == [BounceKind.ABOUT_US]
    assert not suppressed(smtp_rt, "strict@example.net")
    smtp_sink.data_reply = None
    enqueue(smtp_rt, "strict@example.net", reference="next week")
    assert run_delivery(smtp_rt).sent == 1


def test_slow_data_beyond_the_timeout_is_waited_for_and_sent_once(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    """The verdict on DATA has its own, long timeout (RFC 5321 4.5.3.2.6): a relay slower
    than smtp_timeout there is not a connection problem, and the message is not retried
    (which would deliver a second copy)."""
    rt = with_mail(smtp_rt, smtp_timeout=0.5)
    smtp_sink.data_delay = lambda rcpts: 1.5 if "slow@" in rcpts[0] else 0.0
    enqueue(rt, "slow@example.net", "quick@example.net")
    report = run_delivery(rt)
    assert (report.sent, report.retried) == (2, 0), report.errors
    row = rows(rt)["slow@example.net"]
    assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
    assert len(smtp_sink.to("slow@example.net")) == 1


def test_dropped_connection_is_retried(smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock) -> None:
    dropped: list[str] = []

    def drop(address: str) -> bool:
        if address == "drop@example.net" and not dropped:
            dropped.append(address)
            return True
        return False

    smtp_sink.drop_at_rcpt = drop
    enqueue(smtp_rt, "drop@example.net", "after@example.net")
    report = run_delivery(smtp_rt)
    assert (report.sent, report.retried) == (1, 1)
    row = rows(smtp_rt)["drop@example.net"]
    assert row.status == OutboxStatus.PENDING and "connection problem" in (row.last_error or "")
    clock.set(row.next_attempt_at)
    assert run_delivery(smtp_rt).sent == 1
    assert sorted(m.rcpt_tos[0] for m in smtp_sink.messages) == [
        "after@example.net",
        "drop@example.net",
    ]


def test_gives_up_after_max_attempts_and_counts_a_soft_bounce(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = with_mail(smtp_rt, max_attempts=2)
    smtp_sink.rcpt_reply = lambda a: "450 4.2.1 mailbox busy"
    enqueue(rt, "busy@example.net")
    assert run_delivery(rt).retried == 1
    clock.set(rows(rt)["busy@example.net"].next_attempt_at)
    assert run_delivery(rt).failed == 1
    row = rows(rt)["busy@example.net"]
    assert row.status == OutboxStatus.FAILED and row.attempts == 2
    assert bounce_kinds(rt) == [BounceKind.SOFT]
    assert not suppressed(rt, "busy@example.net")  # one soft bounce is not enough


def test_unreachable_relay_is_not_a_bounce(smtp_rt: Runtime) -> None:
    rt = with_mail(smtp_rt, smtp_port=1, max_attempts=1)
    enqueue(rt, "keep@example.net")
    assert run_delivery(rt).failed == 1
    assert bounce_kinds(rt) == []
    assert not suppressed(rt, "keep@example.net")


def test_connections_are_reused_up_to_messages_per_connection(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    rt = with_mail(smtp_rt, messages_per_connection=3)
    enqueue(rt, *(f"p{i}@example.net" for i in range(7)))
    backend = rt.mail_backend()
    assert isinstance(backend, SmtpBackend)
    assert rt.deliverer(backend).run_until_empty().sent == 7
    backend.close()
    assert backend.connections_opened == 3
    assert len({m.peer for m in smtp_sink.messages}) == 3


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.now += seconds


def deliverer_with_time(rt: Runtime, fake: FakeTime, worker: str = "w1") -> Deliverer:
    return Deliverer(
        rt.sessions,
        rt.config,
        rt.composer,
        rt.mail_backend(),
        worker=worker,
        clock=rt.clock,
        monotonic=fake.monotonic,
        sleep=fake.sleep,
    )


def test_global_rate_is_held_and_shared_between_workers(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = with_mail(smtp_rt, rate_per_second=4.0, batch_size=10, domain_rates={})
    enqueue(rt, *(f"p{i}@example.net" for i in range(14)))
    # Another worker holds four messages: this one may use half of the rate, 2 a second.
    with rt.sessions.begin() as session:
        held = claims.claim(
            session, now=clock.now, worker="other", limit=4, lease=timedelta(minutes=5)
        )
    assert len(held) == 4
    fake = FakeTime()
    deliverer = deliverer_with_time(rt, fake)
    report = deliverer.run_once()
    deliverer.backend.close()
    assert report.sent == 10
    assert deliverer.throttle.share == 2
    # A burst of two, then one every half second.
    assert fake.slept == [0.5] * 8
    assert len(smtp_sink.messages) == 10


def test_domain_group_rate_waits_briefly_or_puts_off(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    rt = with_mail(smtp_rt, rate_per_second=0.0, domain_rates={"gmail": 0.25, "yahoo": 1.0})
    enqueue(
        rt,
        "y1@yahoo.com",
        "y2@aol.com",
        "g1@gmail.com",
        "g2@googlemail.com",
        "other@example.net",
    )
    fake = FakeTime()
    deliverer = deliverer_with_time(rt, fake)
    report = deliverer.run_once()
    deliverer.backend.close()
    # yahoo + aol share one bucket of 1/s: the second waits a second. gmail allows one
    # message every 4 s: the second is put off rather than waited for.
    assert fake.slept == [1.0]
    assert (report.sent, report.deferred) == (4, 1)
    later = rows(rt)["g2@googlemail.com"]
    assert later.status == OutboxStatus.PENDING and later.attempts == 0
    assert later.next_attempt_at == clock.now + timedelta(seconds=4)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    return make_ca_and_server_cert(tmp_path)


@pytest.fixture
def auth_sink(tls_files: tuple[Path, Path, Path]) -> Iterator[tuple[SmtpSink, list[str]]]:
    _ca, cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[str] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and data.password == b"relay-password"
        if ok:
            logins.append(data.login.decode())
        return AuthResult(success=ok)

    sink = SmtpSink()
    controller = start_sink(
        sink,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    yield sink, logins
    controller.stop()


def test_starttls_with_auth(
    smtp_rt: Runtime,
    auth_sink: tuple[SmtpSink, list[str]],
    tls_files: tuple[Path, Path, Path],
    clock: Clock,
) -> None:
    sink, logins = auth_sink
    ca = str(tls_files[0])
    settings = {
        "smtp_port": sink.port,
        "smtp_security": "starttls",
        "smtp_ca_file": ca,
        "smtp_username": "digest",
    }
    wrong = with_mail(smtp_rt, **settings, smtp_password="wrong")
    enqueue(wrong, "secure@example.net")
    assert run_delivery(wrong).retried == 1  # our credentials, not the recipient's problem
    assert sink.messages == [] and not suppressed(wrong, "secure@example.net")

    right = with_mail(smtp_rt, **settings, smtp_password="relay-password")
    clock.advance(hours=1)
    assert run_delivery(right).sent == 1
    assert logins == ["digest"]
    assert [m.rcpt_tos for m in sink.messages] == [["secure@example.net"]]

    untrusted = with_mail(smtp_rt, **{**settings, "smtp_ca_file": ""}, smtp_password="x")
    enqueue(untrusted, "other@example.net")
    report = run_delivery(untrusted)  # self-signed relay certificate is refused
    assert report.retried == 1 and "CERTIFICATE_VERIFY_FAILED" in report.errors[0]


def test_implicit_tls(smtp_rt: Runtime, tls_files: tuple[Path, Path, Path]) -> None:
    ca, cert, key = tls_files
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink()
    controller = start_sink(sink, ssl_context=context)
    try:
        rt = with_mail(smtp_rt, smtp_port=sink.port, smtp_security="tls", smtp_ca_file=str(ca))
        enqueue(rt, "tls@example.net")
        assert run_delivery(rt).sent == 1
    finally:
        controller.stop()
    assert [m.rcpt_tos for m in sink.messages] == [["tls@example.net"]]
