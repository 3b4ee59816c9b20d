"""A week's build with digests rendered ahead in worker processes (digest.weekly.ahead)
stores exactly what a build rendering everything itself stores: every digest, topic
selections included, every outbox row and the archive's sections; and when a worker dies
mid-build, the build renders the rest itself and loses nothing."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.db import make_sessionmaker
from digest.models import Council, Digest, DigestMeeting, OutboxMessage, Subscription
from digest.runtime import Runtime
from digest.weekly.ahead import RenderedAhead, rendered_ahead
from digest.weekly.build import BuildSettings, build_council_digest, render_council
from digest.weekly.run import BuildReport, build_each
from digest.weekly.weeks import IsoWeek
from tests.integration.helpers import active_subscription
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, arrange_busy_week, enable
from tests.support.processes import children, cmdline

SLUGS = ["adur", "arun", "ashford", "bedford", "leeds", "manchester", "wigan", "bexley"]
# Per council: everything, two selections with news, one with none (a quiet skip).
CHOICES: list[list[str]] = [[], ["planning"], ["schools-send", "budget-finance"], ["flooding"]]


def _arrange(rt: Runtime, clock: Clock, slugs: list[str]) -> list[int]:
    with rt.sessions.begin() as session:
        for slug in slugs:
            council = enable(session, slug, clock.now - timedelta(days=30))
            council.last_success_at = BUILD_AT - timedelta(hours=3)
            arrange_busy_week(session, council)
    for slug in slugs:
        for n, topics in enumerate(CHOICES):
            subscription_id = active_subscription(rt, f"reader{n}.{slug}@example.org", slug)
            with rt.sessions.begin() as session:
                session.get_one(Subscription, subscription_id).topics = topics
    clock.set(BUILD_AT)
    with rt.read_sessions() as session:
        query = sa.select(Council.id).where(Council.slug.in_(slugs)).order_by(Council.slug)
        return list(session.scalars(query))


def _build(rt: Runtime, ids: list[int], processes: int, **options: Any) -> BuildReport:
    report = BuildReport(week=WEEK)
    settings = replace(BuildSettings.from_config(rt.config), processes=processes)
    steps = build_each(
        rt.sessions, ids, IsoWeek.parse(WEEK), BUILD_AT, settings, rt.links, report,
        min_councils=1,
    )  # fmt: skip
    for _ in steps:
        if options.get("kill_workers"):
            _kill_workers()
            options["kill_workers"] = False
    return report


def _stored(rt: Runtime) -> dict[str, Any]:
    """What the build stored, by what it is, not by row id; then forgets it, so that
    the next build starts from the same data."""
    with rt.sessions.begin() as session:
        topics_of = dict(session.execute(sa.select(Digest.id, Digest.topics)).all())
        columns = (Digest.council_id, Digest.topics, Digest.subject, Digest.body_text,
                   Digest.body_html, Digest.web_html, Digest.counts, Digest.is_quiet)  # fmt: skip
        digests = sorted(map(tuple, session.execute(sa.select(*columns)).all()), key=repr)
        outbox = sorted(
            (row.recipient, row.subscription_id, topics_of.get(row.digest_id or 0))
            for row in session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.digest_id.is_not(None))
            )
        )
        archived = sorted(
            (topics_of[d], m, str(s))
            for d, m, s in session.execute(
                sa.select(DigestMeeting.digest_id, DigestMeeting.meeting_id, DigestMeeting.section)
            )
        )
        session.execute(sa.delete(OutboxMessage).where(OutboxMessage.digest_id.is_not(None)))
        session.execute(sa.delete(DigestMeeting))
        session.execute(sa.delete(Digest))
    return {"digests": digests, "outbox": outbox, "archived": archived}


def _kill_workers() -> None:
    for pid in _workers():
        os.kill(pid, signal.SIGKILL)


def _workers() -> list[int]:
    """This process's rendering workers (not multiprocessing's resource tracker)."""
    return [pid for pid in children() if b"spawn_main" in cmdline(pid)]


def test_rendering_ahead_stores_what_rendering_alone_stores(rt: Runtime, clock: Clock) -> None:
    ids = _arrange(rt, clock, SLUGS[:3])
    ahead = _build(rt, ids, processes=2)
    assert ahead.failed == [] and ahead.rendered_ahead == 3
    with_workers = _stored(rt)
    alone = _build(rt, ids, processes=1)
    assert alone.failed == [] and alone.rendered_ahead == 0
    by_itself = _stored(rt)
    assert with_workers == by_itself
    # The comparison covers selections: a filtered digest, and the quiet one not queued.
    topics = {row[1] for row in by_itself["digests"]}
    assert {"", "planning", "schools-send,budget-finance", "flooding"} <= topics
    queued = {topics for _, _, topics in by_itself["outbox"]}
    assert "planning" in queued and "flooding" not in queued
    assert len(by_itself["outbox"]) == 3 * 3 and ahead.queued == alone.queued == 9


def test_a_worker_killed_mid_build_loses_nothing(rt: Runtime, clock: Clock) -> None:
    ids = _arrange(rt, clock, SLUGS)
    report = _build(rt, ids, processes=2, kill_workers=True)
    # Councils after the kill were rendered by the build itself; none failed.
    assert report.failed == [] and report.councils == len(SLUGS)
    assert 1 <= report.rendered_ahead < len(SLUGS)
    killed = _stored(rt)
    _build(rt, ids, processes=1)
    assert killed == _stored(rt)


def test_a_selection_the_workers_did_not_render_is_rendered_by_the_build(
    rt: Runtime, clock: Clock
) -> None:
    """A subscriber who chose topics after the worker read the subscriptions."""
    [council_id] = _arrange(rt, clock, ["manchester"])
    week, settings = IsoWeek.parse(WEEK), BuildSettings.from_config(rt.config)

    def build(ahead: Any) -> None:
        with rt.sessions.begin() as session:
            council = session.get_one(Council, council_id)
            build_council_digest(session, council, week, BUILD_AT, settings, rt.links, ahead)

    with rt.read_sessions() as session:
        made = render_council(session, council_id, week, BUILD_AT, settings, rt.links)
    assert set(made.digests) == {"", "planning", "schools-send,budget-finance", "flooding"}
    del made.digests["planning"]
    build(made)
    partly = _stored(rt)
    build(None)
    assert partly == _stored(rt)


def test_no_workers_for_a_database_they_cannot_open(rt: Runtime) -> None:
    """An in-memory SQLite database exists only in the process that made it: the build
    renders everything itself rather than start workers that would find nothing."""
    memory: sessionmaker[Session] = make_sessionmaker(sa.create_engine("sqlite://"))
    settings = replace(BuildSettings.from_config(rt.config), processes=2)
    with rendered_ahead(
        memory, [1, 2, 3], IsoWeek.parse(WEEK), BUILD_AT, settings, rt.links, min_councils=1
    ) as ahead:
        assert _workers() == [] and ahead.take(1) is None
    with rendered_ahead(
        rt.sessions, [1, 2, 3], IsoWeek.parse(WEEK), BUILD_AT, settings, rt.links, min_councils=1
    ) as ahead:
        assert len(_workers()) == 2  # the control: a database file they can open


def test_a_wait_for_a_rendering_ends_when_the_workers_are_gone() -> None:
    """The pool does not always settle its futures when a worker is SIGKILLed (a build
    once waited for ever): a wait that the pool will never answer (here, a future it
    does not know) ends with BrokenProcessPool once its processes are dead."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        pool.submit(os.getpid).result()
        ahead = RenderedAhead(pool, [])
        for pid in _workers():
            os.kill(pid, signal.SIGKILL)
        # Waited for on a daemon thread, so that without the check the test fails
        # instead of hanging the run (there is no test timeout).
        ended: list[BaseException] = []
        waiter = threading.Thread(target=_wait_for, args=(ahead, ended), daemon=True)
        waiter.start()
        waiter.join(timeout=30)
        assert not waiter.is_alive(), "the wait never ended"
        assert len(ended) == 1 and isinstance(ended[0], BrokenProcessPool), ended


def _wait_for(ahead: RenderedAhead, ended: list[BaseException]) -> None:
    """Wait on a future the pool does not know, so only the check can end the wait."""
    try:
        ahead._result(Future())
    except BaseException as exc:
        ended.append(exc)
