"""The words a subscriber agrees to, versioned so the consent record can reproduce them."""

from __future__ import annotations

import hashlib

WORDING_VERSION = "2026-11-v1"
WORDING = (
    "Email me a weekly summary of {council}'s committee meetings. "
    "I can unsubscribe at any time with one click. "
    "Council Digest keeps my email address only to send these emails, "
    "never shares it, and deletes it if I ask."
)
WORDING_SHA256 = hashlib.sha256(WORDING.encode()).hexdigest()


def wording_for(council_name: str) -> str:
    return WORDING.format(council=council_name)
