"""The scheduled jobs. Each is a thin adapter: open a transaction, call one digest.*
function, record the run. All progress lives in tables, so a repeated or missed run is
harmless."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import NamedTuple

from digest import autoenable, councils, heartbeats, subscriptions, topics, watches
from digest.collector import councillors
from digest.collector.http_client import Fetcher
from digest.collector.probe import probe_site
from digest.collector.runner import Collector
from digest.documents import extract as extraction
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings, councils_to_build
from digest.weekly.run import BuildReport, build_each
from digest.weekly.weeks import IsoWeek

log = logging.getLogger("digest.jobs")

SCHEDULER_HEARTBEAT = "scheduler"


class Partial(NamedTuple):
    """A run that finished but where part of the work failed (one council of several):
    recorded as not ok, so the dashboard says failed instead of "ok ... 1 failed"."""

    summary: str


def recorded(name: str, rt: Runtime, work: Callable[[], str | Partial]) -> str:
    """Run `work`, keeping a JobRun row with its outcome; failures are logged, not raised,
    so one bad run never stops the scheduler."""
    run_id = heartbeats.start_run(rt.sessions, name, rt.now())
    try:
        outcome = work()
    except Exception as exc:
        log.exception("job %s failed", name)
        heartbeats.finish_run(
            rt.sessions, run_id, rt.now(), ok=False, summary=f"{type(exc).__name__}: {exc}"
        )
        return f"failed: {exc}"
    summary = outcome.summary if isinstance(outcome, Partial) else outcome
    ok = not isinstance(outcome, Partial)
    heartbeats.finish_run(rt.sessions, run_id, rt.now(), ok=ok, summary=summary)
    log.info("job %s: %s", name, summary)
    return summary


def deliver_outbox(rt: Runtime) -> str:
    backend = rt.mail_backend()
    try:
        report = rt.deliverer(backend).run_until_empty()
    finally:
        backend.close()
    # The scheduler is a worker too: it reads a few queued PDF minutes per round (the
    # parsing runs in a child process, so even `digest start` only waits on it).
    extracted = extract_documents(rt, limit=EXTRACT_PER_ROUND)
    return report.summary() + (f"; {extracted}" if extracted else "")


EXTRACT_PER_ROUND = 3


def extract_documents(rt: Runtime, *, limit: int | None = None) -> str:
    """Read queued PDF minutes and decision notices; '' when none was due."""
    fetcher = extraction.pdf_fetcher(rt.config.collector)
    report = extraction.run(rt.sessions, fetcher, rt.now, limit=limit)
    return report.summary() if report.outcomes else ""


def purge_unconfirmed(rt: Runtime) -> str:
    def work() -> str:
        with rt.sessions.begin() as session:
            purged = subscriptions.purge_unconfirmed(session, rt.now())
        return f"{purged} unconfirmed subscriptions purged"

    return recorded("purge_unconfirmed", rt, work)


def beat(rt: Runtime) -> str:
    with rt.sessions.begin() as session:
        heartbeats.beat(session, SCHEDULER_HEARTBEAT, rt.now())
    return "ok"


def weekly_digest(rt: Runtime) -> str:
    """Build and queue this week's digest for every enabled council."""

    def work() -> str:
        now = rt.now()
        week = IsoWeek.of(now, rt.config.tz)
        with rt.read_sessions() as session:
            ids = [c.id for c in councils_to_build(session)]
        report = BuildReport(week=week.label)
        settings = BuildSettings.from_config(rt.config)
        for _ in build_each(rt.sessions, ids, week, now, settings, rt.links, report):
            pass
        if report.failed:
            raise RuntimeError(report.summary())
        return report.summary()

    return recorded("weekly_digest", rt, work)


def collect(rt: Runtime) -> str:
    """Collect every enabled council. A council that fails has its error recorded on it;
    the run itself still counts as done."""
    return collect_councils(rt, [])


def collect_councils(rt: Runtime, slugs: list[str]) -> str:
    """Collect the named councils now (after enabling, or an admin's "collect now");
    no names means every enabled council."""

    def work() -> str | Partial:
        report = Collector.from_runtime(rt).run_all(slugs)
        # New items are tagged as they are stored; this catches up older ones after the
        # taxonomy changed.
        summary = f"{report.summary()}; {retag_topics(rt)}"
        return Partial(summary) if report.failed else summary

    return recorded("collect", rt, work)


def collect_new(rt: Runtime) -> str:
    """Collect enabled councils that have never been tried, so a newly enabled council
    gets data within minutes even if the process that enabled it stopped."""
    with rt.read_sessions() as session:
        slugs = councils.never_collected(session)
    if not slugs:
        return "nothing new"
    return collect_councils(rt, slugs)


def collect_councillors(rt: Runtime) -> str:
    """Councillors of every enabled ModernGov council (GetCouncillorsByWard)."""

    def work() -> str:
        outcomes = councillors.collect_all(rt.sessions, Fetcher(rt.config.collector), rt.now())
        failed = [f"{slug}: {error}" for slug, error in outcomes if error]
        return f"{len(outcomes) - len(failed)} councils, {len(failed)} failed" + (
            f" ({'; '.join(failed)[:500]})" if failed else ""
        )

    return recorded("councillors", rt, work)


def demand_daily(rt: Runtime) -> str:
    """Auto-enable the councils demand has made ready, then collect them."""
    enabled: list[str] = []

    def work() -> str:
        fetcher = Fetcher(rt.config.collector)
        today = rt.site.today(rt.now())
        report = autoenable.run(
            rt.sessions,
            rt.mail,
            now=rt.now(),
            probe_site=lambda url: probe_site(fetcher, url, today),
        )
        enabled.extend(report.enabled)
        return report.summary()

    summary = recorded("demand", rt, work)
    if enabled:
        collect_councils(rt, enabled)
    return summary


def retag_topics(rt: Runtime) -> str:
    """Tag items the current taxonomy has not tagged yet (after an upgrade or an edit of
    digest/data/topics.json), a batch per transaction."""
    total = 0
    while True:
        with rt.sessions.begin() as session:
            done = topics.retag_stale(session, limit=2000)
        total += done
        if done < 2000:
            return f"{total} agenda items tagged"


def watch_alerts(rt: Runtime, frequency: str) -> str:
    """Match the topic watches of this frequency and queue their alerts."""

    def work() -> str:
        settings = watches.alert_settings(rt.config, rt.links)
        with rt.sessions.begin() as session:
            run = watches.send_alerts(session, frequency, rt.now(), settings)
        return f"{run.watches} {frequency} watches, {run.alerts} alerts, {run.matches} matches"

    return recorded(f"watch_{frequency}", rt, work)


def watch_daily(rt: Runtime) -> str:
    return watch_alerts(rt, "daily")


def watch_weekly(rt: Runtime) -> str:
    return watch_alerts(rt, "weekly")
