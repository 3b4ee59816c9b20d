"""VERP: a per-message envelope sender, so a bounce names the exact message it is about.

The return path is `bounces+<id>-<mac>@<bounce_domain>`: the outbox row id in hex and a
keyed MAC of it. Hex survives MTAs that fold the local part's case, the MAC stops forged
bounces from suppressing addresses we never mailed, and the local part stays well under
the 64 octets RFC 5321 allows (at most 8 + 16 + 1 + 20 = 45).
"""

from __future__ import annotations

import hashlib
import hmac
import re

PREFIX = "bounces"
_MAC_LENGTH = 20
_ADDRESS = re.compile(
    rf"{PREFIX}\+(?P<id>[0-9a-f]{{1,16}})-(?P<mac>[0-9a-f]{{{_MAC_LENGTH}}})@(?P<domain>[^\s>]+)",
    re.IGNORECASE,
)


def _mac(secret_key: str, message_id: int) -> str:
    key = hashlib.sha256(f"verp:{secret_key}".encode()).digest()
    return hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:_MAC_LENGTH]


def token(secret_key: str, message_id: int) -> str:
    return f"{message_id:x}-{_mac(secret_key, message_id)}"


def address(secret_key: str, message_id: int, bounce_domain: str) -> str:
    return f"{PREFIX}+{token(secret_key, message_id)}@{bounce_domain.lower()}"


def find_token(text: str, secret_key: str) -> int | None:
    """The outbox row id named by the first well-signed VERP address in `text`, or None.

    Anything that looks like our address but carries a wrong MAC is ignored: it was
    forged or mangled, and acting on it could suppress a stranger.
    """
    for match in _ADDRESS.finditer(text or ""):
        message_id = int(match["id"], 16)
        if hmac.compare_digest(match["mac"].lower(), _mac(secret_key, message_id)):
            return message_id
    return None


def looks_like_verp(text: str) -> bool:
    return _ADDRESS.search(text or "") is not None
