"""/healthz and /metrics."""

from __future__ import annotations

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from digest.runtime import Runtime
from jobs import tasks
from tests.integration.helpers import active_subscription, full_metrics
from tests.support.clock import Clock


def test_healthz_follows_the_scheduler_heartbeat(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    missing = client.get("/healthz")
    assert missing.status_code == 503
    assert missing.get_json()["problems"] == ["no scheduler heartbeat yet"]
    assert missing.get_json()["database"] == "ok"
    tasks.beat(rt)
    clock.advance(seconds=30)
    ok = client.get("/healthz")
    assert ok.status_code == 200
    assert ok.get_json() == {
        "status": "ok",
        "database": "ok",
        "scheduler_heartbeat_age_seconds": 30.0,
        "sending": "ok",
        "problems": [],
        "warnings": [],
    }
    clock.advance(minutes=5)
    stale = client.get("/healthz")
    assert stale.status_code == 503 and "heartbeat is 330 s old" in stale.get_json()["problems"][0]


def test_metrics_in_prometheus_format(client: FlaskClient, rt: Runtime) -> None:
    active_subscription(rt, "m@example.net", "wigan")
    tasks.beat(rt)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    families = {f.name: f for f in text_string_to_metric_families(full_metrics(rt))}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in families.values()
        for s in f.samples
    }
    assert samples[("digest_councils", (("status", "waitlist"),))] == 382
    assert samples[("digest_subscriptions", (("status", "active"),))] == 1
    assert samples[("digest_outbox_messages", (("state", "pending"),))] == 2
    assert samples[("digest_scheduler_heartbeat_age_seconds", ())] == 0
    assert {
        "digest_messages_sent_this_week",
        "digest_messages_failed_this_week",
        "digest_requests_open",
    } <= set(families)
