"""What a delivery failure says about the address (RFC 3463 enhanced status codes).

One table for SMTP-time refusals and for DSNs that come back later, because the same
code means the same thing whichever way it arrives.
"""

from __future__ import annotations

import re

from digest.models import BounceKind

_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")

# The address itself is bad: no such user or domain (5.1.x, incl. 5.1.10 null MX),
# disabled mailbox (5.2.1). Mailbox full (5.2.2) is soft even when sent as a 5xx.
_HARD_SUBJECTS = {"1"}
_HARD_EXACT = {"5.2.1"}
_SOFT_EXACT = {"5.2.2"}


def find_status(text: str) -> str:
    """The first enhanced status code (like 5.1.1) in `text`, or ""."""
    match = _STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def classify(status: str, code: int | None = None) -> BounceKind:
    """HARD: suppress the address now. POLICY (5.7.x): our problem, not the recipient's;
    report it, never suppress. SOFT: counted; repeated soft bounces suppress."""
    status = status.strip()
    if status:
        klass, subject, _ = status.split(".")
        if status in _SOFT_EXACT:
            return BounceKind.SOFT
        if klass == "5" and subject == "7":
            return BounceKind.POLICY
        if klass == "5" and (subject in _HARD_SUBJECTS or status in _HARD_EXACT):
            return BounceKind.HARD
        return BounceKind.SOFT
    # No enhanced code: RFC 5321 reply codes alone. 550/551/553 are about the mailbox.
    if code in (550, 551, 553):
        return BounceKind.HARD
    return BounceKind.SOFT


def pauses_domain(code: int | None, status: str) -> bool:
    """421 (service closing) or 4.7.x (rate limited, e.g. Gmail 4.7.28): the receiving
    side wants us to back off from the whole domain group for a while."""
    return code == 421 or status.startswith("4.7.")
