"""What an SMTP reply says: the delivery engine's own reading of a relay's answer (is
it temporary, which enhanced status it carries, does it ask us to back off from the
whole domain). What a failure means for the address is digest.bounces' business."""

from __future__ import annotations

import re

# An enhanced status code, not part of an IP address or a version number.
_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")


class DeliveryError(Exception):
    """Sending failed; `temporary` says whether trying again later may work."""

    def __init__(
        self,
        message: str,
        *,
        temporary: bool,
        code: int | None = None,
        enhanced: str = "",
        about_recipient: bool = False,
        abandoned: bool = False,
    ) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.enhanced = enhanced
        # True when we gave up waiting because the message could no longer be kept
        # ours (its lease could not be renewed): nothing may be recorded about it.
        self.abandoned = abandoned
        # True when the server refused this recipient or this message (RCPT or DATA),
        # so the reply says something about the address; False for connection problems
        # and sender refusals, which are about us or the relay.
        self.about_recipient = about_recipient


def classify_smtp_code(code: int, text: str, *, about_recipient: bool = True) -> DeliveryError:
    """RFC 5321: 4xx is temporary, 5xx permanent; 552 is treated as 452 (RFC 5321
    section 4.5.3.1.10), because servers use it for transient quota problems."""
    enhanced = enhanced_status(text)
    temporary = 400 <= code < 500 or code == 552
    return DeliveryError(
        f"{code} {text}".strip(),
        temporary=temporary,
        code=code,
        enhanced=enhanced,
        about_recipient=about_recipient,
    )


def enhanced_status(text: str) -> str:
    """The enhanced status code (RFC 3463) an SMTP reply's text starts with, or ""."""
    head = text.split(" ", 1)[0]
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in ("2", "4", "5"):
        return head
    return ""


def find_status(text: str) -> str:
    """The first enhanced status code (like 5.1.1) in `text`, or ""."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def pauses_domain(code: int | None, status: str) -> bool:
    """421 (service closing) or 4.7.x (rate limited, e.g. Gmail 4.7.28): the receiving
    side wants us to back off from the whole domain group for a while."""
    return code == 421 or status.startswith("4.7.")
