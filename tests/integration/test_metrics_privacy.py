"""/metrics does not tell an observer what state an address is in (issue 10: the counts
read before and after one subscribe POST differed in four patterns for five states)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from digest import suppressions
from digest.models import SuppressionReason
from digest.runtime import Runtime
from tests.conftest import make_app
from tests.integration.helpers import (
    active_subscription,
    pending_subscription,
    run_delivery,
    take_in,
)
from tests.support.web import subscribe

TOKEN = "metrics-token-0123456789abcdef"
EMAIL = "watched@example.net"


def _samples(client: FlaskClient, **headers: str) -> dict[tuple[str, tuple[object, ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(response.get_data(as_text=True))
        for s in f.samples
    }


def _unsubscribed(rt: Runtime) -> None:
    from digest import subscriptions
    from tests.integration.helpers import ORIGIN

    subscription_id = active_subscription(rt, EMAIL, "wigan")
    with rt.sessions.begin() as session:
        subscriptions.unsubscribe(
            session,
            subscription_id=subscription_id,
            now=rt.now(),
            origin=ORIGIN,
            secret_key=rt.config.site.secret_key,
        )


def _bounced(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        suppressions.suppress(
            session, rt.config.site.secret_key, EMAIL, SuppressionReason.HARD_BOUNCE, rt.now()
        )


STATES: dict[str, Callable[[Runtime], object]] = {
    "new": lambda rt: None,
    "pending": lambda rt: pending_subscription(rt, EMAIL, "wigan"),
    "active": lambda rt: active_subscription(rt, EMAIL, "wigan"),
    "unsubscribed": _unsubscribed,
    "bounced": _bounced,
}


@pytest.mark.parametrize("state", list(STATES))
def test_public_metrics_do_not_move_with_one_subscribe(
    app: Flask, client: FlaskClient, rt: Runtime, state: str, request: pytest.FixtureRequest
) -> None:
    STATES[state](rt)
    run_delivery(rt)
    before = _samples(client)
    assert subscribe(client, "wigan", EMAIL).status_code == 303
    take_in(rt)
    after = _samples(client)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # The same (empty) difference whatever the state: nothing to tell them apart by.
    assert changed == set(), (state, changed)


def test_full_metrics_need_the_bearer_token(rt: Runtime) -> None:
    secured = Runtime.from_config(rt.config.replace(web={"metrics_token": TOKEN}), engine=rt.engine)
    secured.clock = rt.clock
    client = make_app(secured).test_client()
    active_subscription(rt, EMAIL, "wigan")
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics").headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401
    samples = _samples(client, Authorization=f"Bearer {TOKEN}")
    assert samples[("digest_subscriptions", (("status", "active"),))] == 1
    assert ("digest_outbox_messages", (("state", "pending"),)) in samples
