"""One normalisation of addresses, used for storage, hashes, rate-limit keys and sending
(issue 10: an internationalised domain stored in Unicode stopped all SMTP delivery, and a
full-width variant of an address got past the per-address limit)."""

from __future__ import annotations

import pytest

from digest.addresses import InvalidEmail, address_key, email_hash, normalise_email

SECRET = "s" * 40


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # IDN domains are stored (and so sent) in their ASCII form.
        ("someone@exämple.com", "someone@xn--exmple-cua.com"),
        ("someone@xn--exmple-cua.com", "someone@xn--exmple-cua.com"),
        ("SOMEONE@EXÄMPLE.COM", "someone@xn--exmple-cua.com"),
        # Full-width letters and signs (what some keyboards type) are the same address.
        ("ｓｏｍｅｏｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "someone@example.com"),
        ("someone@ＥＸＡＭＰＬＥ.com", "someone@example.com"),
        # A pasted "Name <address>" is the address.
        ("Ann Example <Ann@Example.org>", "ann@example.org"),
        ('"Example, Ann" <ann@example.org>', "ann@example.org"),
        ("<ann@example.org>", "ann@example.org"),
    ],
)
def test_normalised_to_one_ascii_form(raw: str, expected: str) -> None:
    assert normalise_email(raw) == expected
    assert normalise_email(raw).isascii()


def test_non_ascii_local_part_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidEmail) as info:
        normalise_email("ünï@example.com")
    message = str(info.value)
    assert "before the @" in message and "ü" in message


@pytest.mark.parametrize("raw", ["Ann <ann@example.org", "Ann <a@example.org> <b@example.org>"])
def test_broken_name_and_address_is_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail):
        normalise_email(raw)


def test_hashes_and_limit_keys_agree_for_every_spelling() -> None:
    spellings = [
        "someone@exämple.com",
        "Someone@XN--EXMPLE-CUA.COM",
        " someone@ｅｘäｍｐｌｅ.com ",
        "Someone <someone@exämple.com>",
    ]
    assert len({email_hash(SECRET, s) for s in spellings}) == 1
    assert len({address_key(s) for s in spellings}) == 1
    assert email_hash(SECRET, spellings[0]) == email_hash(SECRET, "someone@xn--exmple-cua.com")


def test_limit_key_of_text_that_is_not_an_address_is_still_stable() -> None:
    # Keys are made before validation: junk must key on something, the same each time.
    assert address_key("  Not An Address ") == address_key("not an address")
    assert address_key("x" * 400 + "@example.org") == address_key(" " + "X" * 400 + "@example.org")
