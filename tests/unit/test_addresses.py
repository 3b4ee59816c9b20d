"""Email validation and keyed hashes."""

from __future__ import annotations

import pytest

from digest.addresses import InvalidEmail, email_hash, normalise_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Resident@Example.NET", "resident@example.net"),
        ("  someone@example.org  ", "someone@example.org"),
        ("first.last+wigan@example.co.uk", "first.last+wigan@example.co.uk"),
    ],
)
def test_normalised(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign",
        "a@b",
        "x@localhost",
        "a\r\nBcc:x@example.org@example.org",
        "<script>@example.org",
        "a@" + "b" * 300 + ".org",
        "two@@example.org",
    ],
)
def test_rejected_with_a_message_for_people(raw: str) -> None:
    with pytest.raises(InvalidEmail) as info:
        normalise_email(raw)
    assert str(info.value).endswith(".")


def test_keyed_hash_is_stable_case_insensitive_and_secret_dependent() -> None:
    assert email_hash("s" * 40, "A@example.org") == email_hash("s" * 40, "a@example.org")
    assert email_hash("s" * 40, "a@example.org") != email_hash("t" * 40, "a@example.org")
    assert len(email_hash("s" * 40, "a@example.org")) == 64
