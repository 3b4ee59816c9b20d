"""Email addresses: one normalisation for everything (storage, hashes, rate-limit keys,
sending), and the keyed hashes that stand in for addresses.

An address is stored, hashed, counted and sent in one form: NFKC-folded (so full-width
letters are the letters they look like), lower-cased, with an internationalised domain
in its ASCII (IDNA, `xn--`) form, which every SMTP relay accepts. Local parts outside
ASCII need SMTPUTF8 from every relay on the way; they are refused with a message saying
so rather than accepted and then impossible to deliver.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

MAX_LENGTH = 254

# "Ann Example <ann@example.org>", pasted from an address book: the part in brackets.
_NAME_AND_ADDRESS = re.compile(r"^[^<>]*<([^<>]*)>\s*$")
# Already in the stored form (every stored address): no need to validate it again on the
# per-message paths (send-time suppression check).
_PLAIN = re.compile(r"[a-z0-9._+\-]+@[a-z0-9\-]+(\.[a-z0-9\-]+)+")


class InvalidEmail(ValueError):
    """The text is not a usable email address; the message says why, for the person."""


def _folded(raw: str) -> str:
    """NFKC, trimmed, the bracketed address of "Name <address>"; not yet validated."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    match = _NAME_AND_ADDRESS.match(text)
    if match:
        text = match.group(1).strip()
    return text


def normalise_email(raw: str) -> str:
    """The validated address in its one stored form: the identity of a subscriber.

    No DNS lookups: a confirmation email is the real deliverability test, and lookups
    would make the web request slow and leak timing.
    """
    text = _folded(raw)
    if not text:
        raise InvalidEmail("Enter your email address.")
    if len(text) > MAX_LENGTH:
        raise InvalidEmail("That email address is too long.")
    if "<" in text or ">" in text:
        raise InvalidEmail("Enter an email address in the correct format, like name@example.com.")
    local, at, _domain = text.rpartition("@")
    if at and not local.isascii():
        odd = "".join(sorted({c for c in local if not c.isascii()}))
        raise InvalidEmail(
            f"We cannot send to addresses with characters like “{odd}” before the @: "
            "not every mail server on the way accepts them. "
            "Please use an address with only plain letters, digits and . _ - + before the @."
        )
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(
            "Enter an email address in the correct format, like name@example.com."
        ) from exc
    address = (result.ascii_email or result.normalized).lower()
    if len(address) > MAX_LENGTH or not address.isascii():
        raise InvalidEmail("That email address is too long.")
    return address


def address_key(raw: str) -> str:
    """The address as normalise_email gives it, or, for text that is not an address, its
    folded lower-case form: what rate limits and hashes key on, so every spelling of one
    address counts as one."""
    plain = raw.strip().lower()
    if len(plain) <= MAX_LENGTH and _PLAIN.fullmatch(plain):
        return plain
    try:
        return normalise_email(raw)
    except InvalidEmail:
        return _folded(raw).lower()


def smtp_address(address: str) -> str:
    """The address as it goes into an SMTP envelope and the To header: ASCII, the domain
    in IDNA form. Rows stored by older versions may hold a Unicode domain; a non-ASCII
    local part raises InvalidEmail (the message fails alone, with the reason)."""
    if address.isascii():
        return address
    return normalise_email(address)


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, so stored hashes cannot be reversed by guessing addresses."""
    mac = _keyed(secret_key, purpose).copy()
    mac.update(value.encode())
    return mac.hexdigest()


@lru_cache(maxsize=16)
def _keyed(secret_key: str, purpose: str) -> hmac.HMAC:
    """The HMAC keyed for `purpose`, copied for each value: a digest build hashes every
    recipient's address, and deriving the key each time was most of the cost."""
    key = hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def email_hash(secret_key: str, email: str) -> str:
    return keyed_hash(secret_key, "email", address_key(email))


def ip_hash(secret_key: str, ip: str | None) -> str:
    return keyed_hash(secret_key, "ip", ip or "")
