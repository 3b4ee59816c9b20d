"""Signed, purpose-salted tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest
from freezegun import freeze_time

from digest.tokens import Purpose, TokenError, TokenExpired, Tokens

tokens = Tokens("k" * 40)


def test_round_trip() -> None:
    assert tokens.read(Purpose.UNSUBSCRIBE, tokens.make(Purpose.UNSUBSCRIBE, 42)) == 42


@pytest.mark.parametrize("other", [p for p in Purpose if p != Purpose.CONFIRM])
def test_a_token_works_only_for_its_purpose(other: Purpose) -> None:
    token = tokens.make(Purpose.CONFIRM, [1, "nonce"])
    with pytest.raises(TokenError):
        tokens.read(other, token)


def test_tampered_and_foreign_tokens_are_refused() -> None:
    token = tokens.make(Purpose.MANAGE, 7)
    with pytest.raises(TokenError):
        tokens.read(Purpose.MANAGE, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(TokenError):
        Tokens("z" * 40).read(Purpose.MANAGE, token)
    with pytest.raises(TokenError):
        tokens.read(Purpose.MANAGE, "not-a-token")


def test_confirm_tokens_expire_after_72_hours() -> None:
    with freeze_time("2026-11-18 10:00:00") as frozen:
        token = tokens.make(Purpose.CONFIRM, [1, "n"])
        frozen.tick(timedelta(hours=71, minutes=59, seconds=59))
        assert tokens.read(Purpose.CONFIRM, token) == [1, "n"]
        frozen.tick(timedelta(seconds=2))
        with pytest.raises(TokenExpired):
            tokens.read(Purpose.CONFIRM, token)


def test_unsubscribe_tokens_never_expire() -> None:
    with freeze_time("2026-11-18") as frozen:
        token = tokens.make(Purpose.UNSUBSCRIBE, 3)
        frozen.tick(timedelta(days=3650))
        assert tokens.read(Purpose.UNSUBSCRIBE, token) == 3


def test_never_expiring_tokens_are_the_same_every_time() -> None:
    with freeze_time("2026-11-18 10:00:00") as frozen:
        first = tokens.make(Purpose.UNSUBSCRIBE, 9)
        frozen.tick(timedelta(seconds=5))
        assert tokens.make(Purpose.UNSUBSCRIBE, 9) == first
        assert tokens.make(Purpose.MANAGE, 9) != first
        assert tokens.make(Purpose.CONFIRM, [9, "n"]) != tokens.make(Purpose.CONFIRM, [9, "m"])
