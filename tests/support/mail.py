"""Reading what our mail backends produced."""

from __future__ import annotations

import mailbox
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from dkim.canonicalization import CanonicalizationPolicy


def _delivery_order(key: str) -> tuple[int, int, str]:
    # Python's Maildir names start "<seconds>.M<microseconds>P…" with the microseconds
    # unpadded, so plain string order puts .M99999 after .M100000 of the same second.
    match = re.match(r"(\d+)\.M(\d+)P", key)
    return (int(match[1]), int(match[2]), key) if match else (0, 0, key)


def maildir_messages(path: str | Path) -> list[EmailMessage]:
    """The messages in a Maildir, in the order they were delivered."""
    box = mailbox.Maildir(str(path), create=False)
    out = []
    for key in sorted(box.keys(), key=_delivery_order):
        raw = box.get_bytes(key)
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(parsed, EmailMessage)
        out.append(parsed)
    return out


def body(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    content = part.get_content()
    assert isinstance(content, str)
    return content


def links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def link_with(message: EmailMessage, fragment: str) -> str:
    """The first link in the plain-text part containing `fragment`."""
    for url in links(body(message)):
        if fragment in url:
            return url
    raise AssertionError(f"no link containing {fragment!r} in:\n{body(message)}")


def path_of(url: str) -> str:
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def subject(message: EmailMessage) -> str:
    """The Subject as a reader sees it (RFC 5322 unfolding leaves the folding space)."""
    return str(message["Subject"]).strip()


def unsubscribe_tokens(text: str) -> list[str]:
    """The tokens of every /unsubscribe/ link in `text`. Tokens carry the second they were
    made, so compare what they decode to, never the links themselves."""
    return re.findall(r"/unsubscribe/([A-Za-z0-9_.\-]+)", text)


# dkimpy's own relaxed canonicaliser (regular expressions): the reference that our
# replace-based one (digest.mail.dkim) is compared with.
DKIMPY_RELAXED = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
