"""Untrusted text (council names, meeting titles) can never add a mail header.

Python 3.11.7 (this project's CI interpreter) predates the CVE-2024-6923 fix: an RFC 2047
encoded word with =0A in a Subject is re-serialised as a bare LF, i.e. an injected header.
"""

from __future__ import annotations

from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from digest.mail.headers import header_text

HOSTILE = [
    "Planning =?UTF-8?Q?x=0ABcc:_victim@example.com?=",
    "Planning =?utf-8?b?eApCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",
    "Planning\r\nBcc: victim@example.com",
    "Planning\nBcc: victim@example.com",
    "Planning\rBcc: victim@example.com",
    "Plan\u2028ning\u2029Bcc: victim@example.com",
    "Plan\x00ning\x0bBcc\x0c: x",
    "Cabinet \u2013 \u00a35m budget \U0001f3db\ufe0f",
    "A" * 5000,
    "\t\t  leading and trailing  \t",
]


@pytest.mark.parametrize("title", HOSTILE)
def test_sanitised_title_adds_no_header_and_round_trips(title: str) -> None:
    safe = header_text(title)
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = Address("Council Digest", "digest", "councildigest.example.org")
    message["To"] = "resident@example.net"
    message["Subject"] = safe
    message.set_content("body")
    raw = message.as_bytes()
    headers_part = raw.split(b"\r\n\r\n", 1)[0]
    rest = headers_part.replace(b"\r\n", b"")
    assert b"\r" not in rest and b"\n" not in rest
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    parsed = BytesParser(policy=policy.default).parsebytes(raw)
    assert {k.lower() for k in parsed} == {
        "from",
        "to",
        "subject",
        "content-type",
        "content-transfer-encoding",
        "mime-version",
    }
    assert parsed.get_all("Bcc") is None
    assert str(parsed["Subject"]) == safe


def test_sanitiser_breaks_encoded_words_and_controls() -> None:
    assert "=?" not in header_text("x =?UTF-8?Q?a?= y")
    assert header_text("a\r\nb\tc\u2028d") == "a b c d"
    assert len(header_text("x" * 500)) == 200


def test_raw_newline_is_refused_by_the_policy_itself() -> None:
    message = EmailMessage(policy=policy.SMTP)
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        message["Subject"] = "a\r\nBcc: victim@example.com"
