"""A digest body encoded once per digest must be byte for byte what encoding the whole
filled-in body for each recipient gives, and its canonical form what dkimpy's own
canonicaliser makes of the bytes sent."""

from __future__ import annotations

import random

import pytest

from digest.mail.encoded_once import EncodedOnce
from digest.mail.wire import encode_body
from tests.support.mail import DKIMPY_RELAXED

UNSUBSCRIBE = "https://link.invalid/unsubscribe-placeholder"
MANAGE = "https://link.invalid/manage-placeholder"
BEFORE = (
    b'--===============123==\r\nContent-Type: text/plain; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
BETWEEN = (
    b'\r\n--===============123==\r\nContent-Type: text/html; charset="utf-8"\r\n'
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
)
AFTER = b"\r\n--===============123==--\r\n"

# What council text and rendered HTML hold that quoted-printable or relaxed
# canonicalisation treat specially: long lines, "=", dots and spaces at line starts and
# ends, tabs, runs of spaces, non-ASCII, every kind of line end.
PIECES = [
    "word ",
    "Wigan",
    "=",
    ".",
    " ",
    "  ",
    "\t",
    "é",
    "£4.2m",
    "\n",
    "\n\n",
    "\r\n",
    "\r",
    "x" * 90,
    '<a href="' + UNSUBSCRIBE + '" style="color: #4f5862;">Unsubscribe</a>',
    "Manage: " + MANAGE,
    "      <p>",
]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))


def test_filled_body_is_what_encoding_the_whole_body_gives() -> None:
    rng = random.Random(20261203)
    for _ in range(2000):
        text, html = _text(rng), _text(rng)
        once = EncodedOnce([BEFORE, text, BETWEEN, html, AFTER], (UNSUBSCRIBE, MANAGE))
        for reader in range(3):
            token = "a" * rng.randint(1, 90)  # long links wrap differently
            links = {
                UNSUBSCRIBE: f"https://councildigest.example.org/u/{reader}-{token}",
                MANAGE: f"https://councildigest.example.org/m/{reader}=x",
            }
            filled = once.fill(links)
            expected = (
                BEFORE
                + encode_body(
                    text.replace(UNSUBSCRIBE, links[UNSUBSCRIBE]).replace(MANAGE, links[MANAGE])
                )
                + BETWEEN
                + encode_body(
                    html.replace(UNSUBSCRIBE, links[UNSUBSCRIBE]).replace(MANAGE, links[MANAGE])
                )
                + AFTER
            )
            assert filled.wire == expected, (text, html)
            assert filled.canonical == bytes(DKIMPY_RELAXED.canonicalize_body(filled.wire)), (
                text,
                html,
            )


def test_only_the_lines_with_links_are_encoded_per_recipient() -> None:
    text = "The Cabinet met.\n" * 200 + f"Unsubscribe: {UNSUBSCRIBE}\n"
    once = EncodedOnce([BEFORE, text, BETWEEN, "<p>x</p>\n", AFTER], (UNSUBSCRIBE,))
    assert once.per_recipient_lines == 1


def test_fixed_parts_must_end_at_a_line_end() -> None:
    with pytest.raises(ValueError, match="line end"):
        EncodedOnce([b"--boundary", "text"], (UNSUBSCRIBE,))
