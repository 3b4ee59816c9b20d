"""/healthz for load balancers and uptime checks, /metrics for Prometheus."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session

from digest import councils as councils_service
from digest import coverage, heartbeats, professional_requests, stats
from digest.mail import pauses
from digest.mail import stats as mail_stats
from digest.runtime import Runtime
from digest.subscriptions import signup
from digest.web.context import db, runtime
from jobs.schedule import HEARTBEAT_SECONDS
from jobs.tasks import SCHEDULER_HEARTBEAT

bp = Blueprint("ops", __name__)

# Three missed heartbeats: the scheduler is gone, not merely busy with a long job.
HEARTBEAT_TOLERANCE_SECONDS = 3 * HEARTBEAT_SECONDS


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    rt = runtime()
    problems: list[str] = []
    age: float | None = None
    try:
        found = stats.health(db(), rt.now(), SCHEDULER_HEARTBEAT)
        beat, stopped = found.scheduler_beat, found.sending_stopped
        database = "ok"
    except sa.exc.SQLAlchemyError as exc:
        database = f"error: {type(exc).__name__}"
        problems.append("database unreachable")
        beat = stopped = None
    if beat is None:
        problems.append("no scheduler heartbeat yet")
    else:
        age = round((rt.now() - beat).total_seconds(), 1)
        if age > HEARTBEAT_TOLERANCE_SECONDS:
            problems.append(f"scheduler heartbeat is {age:.0f} s old")
    body = {
        "status": "ok" if not problems else "unhealthy",
        "database": database,
        "scheduler_heartbeat_age_seconds": age,
        # Informational: the web is healthy even while the circuit breaker holds mail.
        "sending": f"stopped until {stopped[0].isoformat()}" if stopped else "ok",
        "problems": problems,
        # Informational too: misconfigurations that do not stop the site answering.
        "warnings": current_app.extensions["digest_limits"].warnings(request.environ),
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 200 if not problems else 503


def _by_label(name: str, documentation: str, label: str, values: dict[str, int]) -> Metric:
    """One gauge with a sample per value of `label`."""
    gauge = GaugeMetricFamily(name, documentation, labels=[label])
    for value, n in values.items():
        gauge.add_metric([value], n)
    return gauge


class DatabaseCollector(Collector):
    """Reads every figure from the database at scrape time, so any web process can
    answer and no counter is lost when a process restarts."""

    def __init__(self, session: Session, rt: Runtime, *, full: bool) -> None:
        self.session = session
        self.rt = rt
        # Without the metrics token: only figures that no single person's action moves.
        # Subscriptions, sign-ups and the outbox by state, mail this week and open
        # requests change with one subscribe POST in a pattern that differs with the
        # address's state (new, pending, active, unsubscribed, bounced), which the form's
        # answer is careful never to reveal.
        self.full = full

    def collect(self) -> Iterator[Metric]:
        session, now = self.session, self.rt.now()
        councils = _by_label(
            "digest_councils",
            "Councils by status; and per system (SPEC 12.2) by state: councils, collectable, "
            "enabled, fresh",
            "status",
            stats.by_value(stats.councils_by_status(session)),
        )
        found = coverage.coverage(session, now)
        for system, counts in found.systems.items():
            for state in coverage.STATES:
                councils.add_sample(
                    "digest_councils",
                    {"system": system.value, "state": state},
                    getattr(counts, state),
                )
        yield councils
        enabled = councils_service.enabled(session)
        last_ok = GaugeMetricFamily(
            "digest_council_last_success_timestamp_seconds",
            "When collection last succeeded",
            labels=["council"],
        )
        failures = GaugeMetricFamily(
            "digest_council_consecutive_failures",
            "Collection failures since the last success",
            labels=["council"],
        )
        stale = GaugeMetricFamily(
            "digest_council_stale",
            "1 when no successful collection for 48 hours",
            labels=["council"],
        )
        collections = CounterMetricFamily(
            "digest_collections",
            "Collection runs per council by outcome",
            labels=["council", "outcome"],
        )
        for council in enabled:
            collections.add_metric([council.slug, "ok"], council.collections_ok)
            collections.add_metric([council.slug, "failed"], council.collections_failed)
            if council.last_success_at:
                last_ok.add_metric([council.slug], council.last_success_at.timestamp())
            failures.add_metric([council.slug], council.consecutive_failures)
            stale.add_metric([council.slug], int(council.is_stale(now)))
        yield from (collections, last_ok, failures, stale)
        beat = heartbeats.last_beat(session, SCHEDULER_HEARTBEAT)
        if beat is not None:
            yield GaugeMetricFamily(
                "digest_scheduler_heartbeat_age_seconds",
                "Seconds since the scheduler last beat",
                value=(now - beat).total_seconds(),
            )
        if not self.full:
            yield _sending_stopped(pauses.EVERYTHING in pauses.active(session, now))
            return
        yield from self._delivery(session, now)
        yield _by_label(
            "digest_subscriptions",
            "Subscriptions by status",
            "status",
            stats.by_value(stats.subscriptions_by_status(session)),
        )
        open_requests = professional_requests.count_open(session)
        yield GaugeMetricFamily(
            "digest_requests_open",
            "Confirmed professional requests awaiting a decision",
            value=open_requests,
        )

    def _delivery(self, session: Session, now: datetime) -> Iterator[Metric]:
        waiting, stuck = signup.waiting(session)
        yield _by_label(
            "digest_signups",
            "Sign-ups from the subscribe form not yet acted on (stuck: gave up after errors)",
            "state",
            {"waiting": waiting, "stuck": stuck},
        )
        delivery = mail_stats.counts(session, now=now, since=self.rt.site.week_start(now))
        yield _by_label(
            "digest_outbox_messages",
            "Outbox messages by state",
            "state",
            stats.by_value(delivery.queue),
        )
        yield GaugeMetricFamily(
            "digest_outbox_due", "Messages due to be sent now", value=delivery.due
        )
        if delivery.oldest_due_at is not None:
            yield GaugeMetricFamily(
                "digest_outbox_oldest_due_age_seconds",
                "How long the oldest due message has waited",
                value=max(0.0, (now - delivery.oldest_due_at).total_seconds()),
            )
        yield GaugeMetricFamily(
            "digest_messages_sent_this_week", "Emails sent this ISO week", value=delivery.sent
        )
        yield GaugeMetricFamily(
            "digest_messages_failed_this_week",
            "Emails given up on this ISO week",
            value=delivery.failed,
        )
        yield _by_label(
            "digest_bounces_this_week",
            "Bounces and complaints this ISO week",
            "kind",
            stats.by_value(delivery.bounces),
        )
        yield GaugeMetricFamily(
            "digest_domain_groups_paused",
            "Recipient domain groups that asked us to slow down",
            value=len(set(delivery.paused_groups) - {pauses.EVERYTHING}),
        )
        yield _sending_stopped(pauses.EVERYTHING in delivery.paused_groups)


def _sending_stopped(stopped: bool) -> Metric:
    return GaugeMetricFamily(
        "digest_sending_stopped",
        "1 while the circuit breaker holds all mail after repeated failures",
        value=int(stopped),
    )


@bp.get("/metrics")
def metrics() -> Response:
    rt = runtime()
    token = rt.config.web.metrics_token
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return Response(
                "A bearer token is needed for /metrics.\n",
                status=401,
                mimetype="text/plain",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db(), rt, full=bool(token)))
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4; charset=utf-8")
