"""Lines that start with a dot survive the SMTP DATA transfer byte for byte (RFC 5321
section 4.5.2), whether or not the message has any, stuffed exactly as smtplib would.
And a message whose bytes cannot be produced once the server is ready for them is
abandoned without leaving the connection half-way through DATA."""

from __future__ import annotations

import random
import smtplib
import time

import pytest

from digest.config import MailConfig
from digest.mail.backends import SmtpBackend, dot_stuffed
from tests.support.smtp import SmtpSink

HEAD = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: dots\r\n\r\n"


def test_leading_dots_arrive_intact(smtp_sink: SmtpSink) -> None:
    backend = SmtpBackend(
        MailConfig(backend="smtp", smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    )
    bodies = [
        b"no dot at the start of any line.\r\n",
        b".first line\r\n..two\r\nmiddle\r\n.\r\nlast.\r\n",
        b"ends without a line break\r\n.x",
    ]
    try:
        for body in bodies:
            backend.send("a@example.org", "b@example.net", HEAD + body)
    finally:
        backend.close()
    received = [m.data.split(b"\r\n\r\n", 1)[1] for m in smtp_sink.messages]
    expected = [bodies[0], bodies[1], bodies[2] + b"\r\n"]
    assert received == expected


def test_a_message_that_cannot_be_produced_after_data_is_abandoned(smtp_sink: SmtpSink) -> None:
    """The bytes are asked for after the server's 354 (signing finishes meanwhile). If
    producing them fails, the half-open DATA is abandoned by closing the connection,
    nothing arrives, and the next message goes out on a fresh connection."""
    backend = SmtpBackend(
        MailConfig(backend="smtp", smtp_host="127.0.0.1", smtp_port=smtp_sink.port, smtp_timeout=3)
    )

    def broken() -> bytes:
        raise RuntimeError("signing failed")

    started = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="signing failed"):
            backend.begin("a@example.org", "b@example.net", broken)
        backend.send("a@example.org", "c@example.net", HEAD + b"after\r\n")
    finally:
        backend.close()
    # Left in DATA, the connection would swallow the next MAIL FROM as message text
    # and the send would wait out the timeout before reconnecting.
    assert time.monotonic() - started < 3
    assert [m.rcpt_tos for m in smtp_sink.messages] == [["c@example.net"]]
    assert backend.connections_opened == 2


def test_stuffing_is_smtplibs_on_random_messages() -> None:
    rng = random.Random(20261203)
    pieces = [b".", b"..", b"\r\n", b"\n", b"a", b"=\r\n", b" "]
    for _ in range(5000):
        message = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        assert dot_stuffed(message) == smtplib._quote_periods(message), message
