"""Email address validation and the keyed hashes that stand in for addresses."""

from __future__ import annotations

import hashlib
import hmac

from email_validator import EmailNotValidError, validate_email


class InvalidEmail(ValueError):
    """The text is not a usable email address; the message says why, for the person."""


def normalise_email(raw: str) -> str:
    """Validated, lower-cased address: the identity of a subscriber.

    No DNS lookups: a confirmation email is the real deliverability test, and lookups
    would make the web request slow and leak timing.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidEmail("Enter your email address.")
    if len(text) > 254:
        raise InvalidEmail("That email address is too long.")
    try:
        result = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(
            "Enter an email address in the correct format, like name@example.com."
        ) from exc
    return result.normalized.lower()


def keyed_hash(secret_key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256 of `value`, so stored hashes cannot be reversed by guessing addresses."""
    key = hashlib.sha256(f"{purpose}:{secret_key}".encode()).digest()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def email_hash(secret_key: str, email: str) -> str:
    return keyed_hash(secret_key, "email", email.strip().lower())


def ip_hash(secret_key: str, ip: str | None) -> str:
    return keyed_hash(secret_key, "ip", ip or "")
