"""The delivery loop never dies on one message (issue 10: an address smtplib could not
encode raised out of the loop; `digest worker` died on it again at every restart and
`digest send` delivered nothing to anyone)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from digest.cli import main
from digest.mail.outbox import MessagePurpose
from digest.models import OutboxMessage, OutboxStatus
from digest.runtime import Runtime
from tests.integration.helpers import queue_notice, run_delivery
from tests.support.smtp import SmtpSink
from tests.support.workers import Worker, wait_until, write_config

# Rows put in the outbox directly, as data written by an older version (or by hand) may
# be: an address with a non-ASCII local part smtplib cannot encode, an address whose
# internationalised domain was stored in Unicode, and a Message-ID composing refuses.
BAD = [
    ("ünï@example.com", "<bad-1@councildigest.example.org>"),
    ("fine@example.com", "<bad\r\nBcc: x@evil.example>"),
]
IDN = "someone@exämple.com"


def _arrange(rt: Runtime) -> list[int]:
    good = [queue_notice(rt, f"good{i}@example.net", f"good-{i}") for i in range(3)]
    with rt.sessions.begin() as session:
        for n, (recipient, message_id) in enumerate(
            [*BAD, (IDN, "<idn@councildigest.example.org>")]
        ):
            session.execute(
                sa.insert(OutboxMessage).values(
                    purpose=MessagePurpose.ADMIN_NOTICE.value,
                    reference=f"bad-{n}",
                    recipient=recipient,
                    subject="Hello",
                    body_text="Body\n",
                    message_id=message_id,
                    status=OutboxStatus.PENDING,
                    attempts=0,
                    next_attempt_at=rt.now(),
                    created_at=rt.now(),
                )
            )
    good.append(queue_notice(rt, "good-last@example.net", "good-last"))
    return [g for g in good if g is not None]


def _check(rt: Runtime, sink: SmtpSink) -> None:
    with rt.read_sessions() as session:
        rows = {r.reference: r for r in session.scalars(sa.select(OutboxMessage))}
    for reference in ("good-0", "good-1", "good-2", "good-last", "bad-2"):
        assert rows[reference].status == OutboxStatus.SENT, (reference, rows[reference].last_error)
    for reference in ("bad-0", "bad-1"):
        assert rows[reference].status == OutboxStatus.FAILED, reference
        assert rows[reference].last_error, reference
    assert "before the @" in (rows["bad-0"].last_error or "")
    received = {r for m in sink.messages for r in m.rcpt_tos}
    # The IDN address went out in its ASCII form, envelope and header alike.
    assert "someone@xn--exmple-cua.com" in received
    idn = next(m for m in sink.messages if "someone@xn--exmple-cua.com" in m.rcpt_tos)
    assert idn.message["To"] == "someone@xn--exmple-cua.com"
    assert {f"good{i}@example.net" for i in range(3)} | {"good-last@example.net"} <= received


def test_deliverer_fails_the_bad_message_and_carries_on(
    smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    _arrange(smtp_rt)
    report = run_delivery(smtp_rt)
    assert report.sent == 5 and report.failed == 2, report.errors
    _check(smtp_rt, smtp_sink)


def test_digest_send_delivers_the_rest(
    tmp_path: Path, engine: Engine, smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    _arrange(smtp_rt)
    config = write_config(tmp_path / "config.toml", engine, smtp_port=smtp_sink.port)
    result = CliRunner().invoke(main, ["--config", str(config), "send"])
    assert "5 sent" in result.output and "2 failed" in result.output, result.output
    assert result.exit_code == 1  # something failed, and the operator is told what
    assert "ünï@example.com" in result.output
    _check(smtp_rt, smtp_sink)


def test_digest_worker_keeps_running(
    tmp_path: Path, engine: Engine, smtp_rt: Runtime, smtp_sink: SmtpSink
) -> None:
    _arrange(smtp_rt)
    config = write_config(tmp_path / "config.toml", engine, smtp_port=smtp_sink.port)
    worker = Worker(config, tmp_path, "worker")
    try:
        assert wait_until(lambda: len(smtp_sink.messages) >= 5, timeout=30), worker.output()
        queue_notice(smtp_rt, "after@example.net", "after")
        assert wait_until(lambda: bool(smtp_sink.to("after@example.net")), timeout=30), (
            worker.output()
        )
        assert worker.process.poll() is None, worker.output()
    finally:
        assert worker.terminate() == 0, worker.output()
    _check(smtp_rt, smtp_sink)


def test_maildir_gets_the_ascii_address_not_an_encoded_word(rt: Runtime) -> None:
    _arrange(rt)
    report = run_delivery(rt)
    assert report.sent == 5 and report.failed == 2, report.errors
    raw = [
        path.read_bytes()
        for path in (Path(rt.config.mail.maildir_path) / "new").iterdir()
        if b"xn--exmple-cua" in path.read_bytes()
    ]
    assert len(raw) == 1
    assert b"To: someone@xn--exmple-cua.com" in raw[0] and b"=?utf-8?" not in raw[0].lower()
