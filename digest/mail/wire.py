"""Messages on the wire: the SMTP policy, quoted-printable bodies, serialising with the
bodies spliced in, and headers of our own making set exactly as given."""

from __future__ import annotations

import binascii
import re
import secrets
from email import policy
from email.message import EmailMessage

# How messages are written to the wire: the SMTP policy (CRLF, headers folded at 78), except
# that headers we set raw (see set_raw) are written exactly as given.
WIRE_POLICY = policy.SMTP.clone(refold_source="none")
_RAW_VALUE = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?")


def quoted_printable(text: str) -> bytes:
    """UTF-8 text as quoted-printable with LF line ends, encoded by binascii (C) rather
    than the email package's pure-Python encoder: the same wire format, many times
    faster, which is what lets one worker keep up with a local relay."""
    return binascii.b2a_qp(_normalised(text).encode("utf-8"), istext=True)


def _normalised(text: str) -> str:
    """LF line ends only, and a line end at the end."""
    normalised = text.replace("\r\n", "\n").replace("\r", "\n")
    if not normalised.endswith("\n"):
        normalised += "\n"
    return normalised


def normalise_lines(text: str) -> list[str]:
    """The lines quoted_printable encodes `text` as, each ending in LF: b2a_qp encodes
    each line on its own, so encoding them one by one gives the same bytes."""
    return [line + "\n" for line in _normalised(text)[:-1].split("\n")]


def encode_body(text: str) -> bytes:
    """A body part's bytes on the wire (CRLF line ends)."""
    return quoted_printable(text).replace(b"\n", b"\r\n")


def set_text(part: EmailMessage, subtype: str, text: str) -> None:
    part["Content-Type"] = f'text/{subtype}; charset="utf-8"'
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part.set_payload(quoted_printable(text).decode("ascii"))


def text_part(subtype: str, text: str) -> EmailMessage:
    part = EmailMessage(policy=policy.SMTP)
    set_text(part, subtype, text)
    return part


def serialise(message: EmailMessage) -> bytes:
    """`message.as_bytes(policy=policy.SMTP)`, with the (already encoded) bodies spliced
    in afterwards instead of being written line by line by the generator.

    Safe because every leaf payload here is quoted-printable, which encodes "=" and so can
    never contain a MIME boundary ("===…"), and because each marker holds a fresh random
    nonce that no header can contain.
    """
    nonce = secrets.token_hex(8)
    saved: list[tuple[EmailMessage, str]] = []
    bodies: list[tuple[bytes, bytes]] = []
    for n, part in enumerate(p for p in message.walk() if not p.is_multipart()):
        payload = part.get_payload()
        if not isinstance(payload, str) or part["Content-Transfer-Encoding"] != (
            "quoted-printable"
        ):
            continue
        marker = f"cd-body-{n}-{nonce}"
        saved.append((part, payload))
        bodies.append((marker.encode(), payload.encode("ascii").replace(b"\n", b"\r\n")))
        part.set_payload(marker)
    try:
        raw = message.as_bytes(policy=WIRE_POLICY)
    finally:
        for part, payload in saved:
            part.set_payload(payload)
    for placeholder, body in bodies:
        raw = raw.replace(placeholder, body, 1)
    return raw


def set_raw(msg: EmailMessage, name: str, value: str) -> None:
    """Add a header of our own making (a URL, a Message-ID) exactly as given.

    The email package folds a value with no space in it that does not fit on one line by
    turning it into RFC 2047 encoded words, so a long unsubscribe URL would arrive as
    `=?utf-8?q?=3Chttps=3A//…?=`, which no mail client reads as a URL. Only printable
    ASCII is accepted, so nothing here can carry a line break.
    """
    if not _RAW_VALUE.fullmatch(value) or len(value) > 900:
        raise ValueError(f"unsafe value for {name}: {value!r}")
    msg.set_raw(name, value)
