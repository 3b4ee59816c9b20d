"""SMTP exchanges against a slow real server (aiosmtpd on loopback): a slow or trickled
verdict on DATA is waited for (RFC 5321 gives it 10 minutes) with the lease renewed
meanwhile, so no other live worker takes the message over and nothing goes out twice;
a server stalling before the end of DATA costs at most `smtp_timeout` in total."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from digest.mail.report import DeliveryReport
from digest.models import OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.integration.helpers import queue_notice, run_delivery, with_mail
from tests.support.smtp import SmtpSink, start_sink


def real_time(rt: Runtime) -> Runtime:
    # Leases must really run out for this test: the clock is the wall clock.
    rt.clock = lambda: datetime.now(UTC)
    return rt


@pytest.mark.parametrize("fault", ["slow verdict", "trickled verdict"])
def test_a_slow_verdict_on_data_is_waited_for_and_no_live_worker_takes_over(
    smtp_rt: Runtime, smtp_sink: SmtpSink, fault: str
) -> None:
    # A verdict taking 3 s: longer than smtp_timeout (0.5 s) and than the lease (2 s).
    if fault == "slow verdict":
        smtp_sink.data_delay = lambda _rcpts: 3.0
    else:
        smtp_sink.data_trickle = 0.33
    rt = real_time(with_mail(smtp_rt, smtp_timeout=0.5, lease_seconds=2))
    queue_notice(rt, "patient@example.net")
    first: list[DeliveryReport] = []
    sender = threading.Thread(target=lambda: first.append(run_delivery(rt, worker="first")))
    sender.start()
    time.sleep(2.6)  # the first worker's original lease has run out by now
    second = run_delivery(rt, worker="second")
    sender.join(timeout=10)
    assert second.handled == 0
    assert first[0].sent == 1, first[0].errors
    assert len(smtp_sink.to("patient@example.net")) == 1
    with rt.read_sessions() as session:
        row = session.scalars(sa.select(OutboxMessage)).one()
    assert (row.status, row.attempts, row.worker) == (OutboxStatus.SENT, 1, "first")


def test_a_verdict_that_never_comes_is_not_sent_again(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    smtp_sink.data_delay = lambda _rcpts: 2.0
    rt = with_mail(smtp_rt, smtp_timeout=0.3, smtp_data_timeout=0.6)
    queue_notice(rt, "unknown@example.net")
    report = run_delivery(rt)
    assert (report.sent, report.retried, report.failed) == (0, 0, 1)
    with rt.read_sessions() as session:
        row = session.scalars(sa.select(OutboxMessage)).one()
    assert row.status == OutboxStatus.FAILED
    assert "did not answer the end of the message within 0.6 seconds" in (row.last_error or "")


def test_a_server_trickling_its_replies_costs_at_most_smtp_timeout(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    """Every reply before DATA trickled a byte at a time: each read succeeds, so only a
    deadline for the whole exchange stops it."""

    async def slow_ehlo(server, session, envelope, hostname, responses):  # type: ignore[no-untyped-def]
        return responses

    smtp_sink.rcpt_reply = None
    rt = with_mail(smtp_rt, smtp_timeout=0.5)
    queue_notice(rt, "trickled@example.net")
    original = smtp_sink.handle_RCPT

    async def trickled_rcpt(server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        import asyncio

        for byte in b"250 2.1.5 fine, eventually":
            server.transport.write(bytes([byte]))
            await asyncio.sleep(0.1)
        await original(server, session, envelope, address, options)
        return ""

    smtp_sink.handle_RCPT = trickled_rcpt  # type: ignore[method-assign]
    started = time.monotonic()
    report = run_delivery(rt)
    elapsed = time.monotonic() - started
    print(f"trickling relay given up after {elapsed:.2f} s (smtp_timeout 0.5 s)")
    assert report.retried == 1 and "no answer within 0.5 seconds" in report.errors[0]
    assert elapsed < 1.5


def test_a_pooled_connection_the_relay_closed_is_reopened_at_no_cost(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    """250 then close, as some relays do after each message: the next message opens a
    new connection at once instead of failing and waiting five minutes."""
    smtp_sink.close_after_data = True
    for n in range(3):
        queue_notice(smtp_rt, f"reader{n}@example.net")
    backend = smtp_rt.mail_backend()
    try:
        report = smtp_rt.deliverer(backend).run_until_empty()
    finally:
        backend.close()
    assert (report.sent, report.retried) == (3, 0), report.errors
    with smtp_rt.read_sessions() as session:
        assert set(session.scalars(sa.select(OutboxMessage.attempts))) == {1}
    assert len(smtp_sink.messages) == 3


def test_a_pooled_connection_closed_by_an_idle_timeout_is_reopened(smtp_rt: Runtime) -> None:
    sink = SmtpSink()
    # aiosmtpd answers 421 and hangs up after 0.3 s without a command.
    controller = start_sink(sink, timeout=0.3)
    try:
        rt = with_mail(smtp_rt, smtp_port=sink.port)
        backend = rt.mail_backend()
        try:
            queue_notice(rt, "first@example.net")
            assert rt.deliverer(backend).run_until_empty().sent == 1
            time.sleep(0.6)
            queue_notice(rt, "second@example.net")
            report = rt.deliverer(backend).run_until_empty()
        finally:
            backend.close()
    finally:
        controller.stop()
    assert (report.sent, report.retried) == (1, 0), report.errors
    assert len(sink.messages) == 2
