"""Signed, purpose-salted tokens for links in emails.

Each purpose has its own salt, so a token made for one action is refused by every other.
Confirmation tokens expire; unsubscribe and manage tokens never do, because links in old
mail must keep working.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Any

from itsdangerous import (
    BadSignature,
    Serializer,
    SignatureExpired,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)


class Purpose(enum.StrEnum):
    CONFIRM = "confirm-v1"
    UNSUBSCRIBE = "unsubscribe-v1"
    MANAGE = "manage-v1"
    CONFIRM_REQUEST = "confirm-request-v1"
    VERP = "verp-v1"
    WATCH_CONFIRM = "watch-confirm-v1"
    WATCH_UNSUBSCRIBE = "watch-unsubscribe-v1"
    WATCH_MANAGE = "watch-manage-v1"


MAX_AGE: dict[Purpose, timedelta | None] = {
    Purpose.CONFIRM: timedelta(hours=72),
    Purpose.CONFIRM_REQUEST: timedelta(hours=72),
    Purpose.UNSUBSCRIBE: None,
    Purpose.MANAGE: None,
    Purpose.VERP: None,
    Purpose.WATCH_CONFIRM: timedelta(hours=72),
    Purpose.WATCH_UNSUBSCRIBE: None,
    Purpose.WATCH_MANAGE: None,
}


class TokenError(Exception):
    """The token is forged, damaged or made for another purpose."""


class TokenExpired(TokenError):
    """The token was genuine but is too old."""


class Tokens:
    def __init__(self, secret_key: str) -> None:
        # Tokens that never expire carry no timestamp, so the same payload always gives the
        # same token: the unsubscribe link in a message's header and body always match.
        self._serializers: dict[Purpose, Serializer[str]] = {
            purpose: (
                URLSafeTimedSerializer(secret_key, salt=purpose.value)
                if MAX_AGE[purpose]
                else URLSafeSerializer(secret_key, salt=purpose.value)
            )
            for purpose in Purpose
        }

    def make(self, purpose: Purpose, payload: Any) -> str:
        token: str = self._serializers[purpose].dumps(payload)
        return token

    def read(self, purpose: Purpose, token: str) -> Any:
        """The payload of a genuine, unexpired token; TokenError otherwise."""
        max_age = MAX_AGE[purpose]
        serializer = self._serializers[purpose]
        try:
            if isinstance(serializer, URLSafeTimedSerializer) and max_age:
                return serializer.loads(token, max_age=int(max_age.total_seconds()))
            return serializer.loads(token)
        except SignatureExpired as exc:
            raise TokenExpired(str(exc)) from exc
        except BadSignature as exc:
            raise TokenError(str(exc)) from exc
