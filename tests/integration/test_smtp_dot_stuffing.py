"""Lines that start with a dot survive the SMTP DATA transfer byte for byte (RFC 5321
section 4.5.2), whether or not the message has any: the backend only stuffs when a scan
finds one."""

from __future__ import annotations

from digest.config import MailConfig
from digest.mail.backends import SmtpBackend
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
