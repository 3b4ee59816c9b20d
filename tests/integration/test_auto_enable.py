"""The daily demand job: auto-enable in rank order within the threshold and capacity,
only when a real probe of the council's website succeeds."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest import autoenable
from digest.collector.http_client import Fetcher
from digest.collector.probe import probe_site
from digest.models import AdminAction, Council, CouncilStatus, OutboxMessage
from digest.runtime import Runtime
from jobs import tasks
from tests.conftest import make_config
from tests.integration.helpers import active_subscription, professional_request
from tests.support.clock import Clock
from tests.support.moderngov import (
    FakeModernGov,
    FakeSite,
    Reply,
    fixture,
    loopback_resolver,
    manchester_like,
    on,
)


def runtime_with(tmp_path, engine: Engine, clock: Clock, **demand: int) -> Runtime:  # type: ignore[no-untyped-def]
    rt = Runtime.from_config(make_config(tmp_path, engine, demand=demand), engine=engine)
    rt.clock = clock
    return rt


def point(rt: Runtime, slug: str, base_url: str) -> None:
    with rt.sessions.begin() as session:
        session.execute(sa.update(Council).where(Council.slug == slug).values(base_url=base_url))


def statuses(rt: Runtime, *slugs: str) -> dict[str, str]:
    with rt.read_sessions() as session:
        rows = session.execute(
            sa.select(Council.slug, Council.status).where(Council.slug.in_(slugs))
        )
        return {slug: status.value for slug, status in rows}


def prober(rt: Runtime, today: date):  # type: ignore[no-untyped-def]
    fetcher = Fetcher(rt.config.collector, resolver=loopback_resolver)
    return lambda url: probe_site(fetcher, url, today)


def test_threshold_capacity_and_probe(
    tmp_path, engine: Engine, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    rt = runtime_with(tmp_path, engine, clock, auto_enable_threshold=3, max_enabled_councils=2)
    today = clock.now.date()
    fake_moderngov.add_site("democracy.leeds.test", FakeSite(meetings=manchester_like(today)))
    fake_moderngov.add_site("democracy.bolton.test", FakeSite(meetings=manchester_like(today)))
    fake_moderngov.add_site("democracy.bury.test", FakeSite(meetings=manchester_like(today)))
    fake_moderngov.add_site(
        "democracy.wigan.test",
        FakeSite(
            override=on(
                "GetMeetings",
                Reply(
                    fixture("error_leeds_sharepoint_error_page_2016.html"), content_type="text/html"
                ),
            )
        ),
    )
    for slug in ("leeds", "bolton", "bury", "wigan"):
        point(rt, slug, f"http://democracy.{slug}.test:{fake_moderngov.port}")
    # Scores: wigan 11 (a professional request), leeds 4, bury 3, bolton 2 (below 3).
    active_subscription(rt, "w@example.net", "wigan")
    professional_request(rt, "wigan", "pat@observer.example")
    for i in range(4):
        active_subscription(rt, f"l{i}@example.net", "leeds")
    for i in range(3):
        active_subscription(rt, f"b{i}@example.net", "bury")
    for i in range(2):
        active_subscription(rt, f"o{i}@example.net", "bolton")
    # One council is already enabled, so there is room for one more.
    point(rt, "hartlepool", "https://democracy.hartlepool.example")
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council)
            .where(Council.slug == "hartlepool")
            .values(status=CouncilStatus.ENABLED, enabled_at=rt.now())
        )

    report = autoenable.run(rt.sessions, rt.mail, now=rt.now(), probe_site=prober(rt, today))

    assert report.enabled == ["leeds"]  # wigan's probe failed; bury waits for capacity
    assert [slug for slug, _ in report.probe_failed] == ["wigan"]
    assert report.waiting_for_capacity == ["bury"]
    assert statuses(rt, "wigan", "leeds", "bury", "bolton") == {
        "wigan": "waitlist",
        "leeds": "enabled",
        "bury": "waitlist",
        "bolton": "waitlist",
    }
    with rt.read_sessions() as session:
        wigan = session.scalars(sa.select(Council).where(Council.slug == "wigan")).one()
        assert wigan.last_probe_ok is False and "HTML page" in (wigan.last_probe_message or "")
        live = session.scalars(
            sa.select(OutboxMessage.recipient).where(OutboxMessage.purpose == "council_live")
        ).all()
        assert sorted(live) == [f"l{i}@example.net" for i in range(4)]
        [action] = session.scalars(sa.select(AdminAction)).all()
        assert (action.actor, action.action, action.target) == (
            "demand job",
            "council.auto_enable",
            "leeds",
        )
    # Running again changes nothing and tells nobody twice.
    again = autoenable.run(rt.sessions, rt.mail, now=rt.now(), probe_site=prober(rt, today))
    assert again.enabled == [] and again.waiting_for_capacity == ["wigan", "bury"]  # full now
    with rt.read_sessions() as session:
        assert (
            session.scalar(
                sa.select(sa.func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.purpose == "council_live")
            )
            == 4
        )


def test_off_by_default(rt: Runtime) -> None:
    active_subscription(rt, "a@example.net", "leeds")
    report = autoenable.run(
        rt.sessions,
        rt.mail,
        now=rt.now(),
        probe_site=lambda url: (_ for _ in ()).throw(AssertionError("no probe")),
    )
    assert report.off and "off" in report.summary()


def test_demand_job_enables_and_collects(
    tmp_path, engine: Engine, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    from digest.clock import utcnow

    clock.set(utcnow())
    rt = runtime_with(tmp_path, engine, clock, auto_enable_threshold=1)
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    point(rt, "wigan", fake_moderngov.url())
    active_subscription(rt, "w@example.net", "wigan")
    summary = tasks.demand_daily(rt)
    assert summary == "1 council(s) enabled (wigan)"
    with rt.read_sessions() as session:
        wigan = session.scalars(sa.select(Council).where(Council.slug == "wigan")).one()
        meetings = session.scalar(sa.text("SELECT count(*) FROM meetings"))
    assert wigan.status == CouncilStatus.ENABLED and wigan.last_success_at is not None
    assert meetings == 3
    assert wigan.collections_ok == 1


def test_collect_new_picks_up_councils_never_collected(
    tmp_path, engine: Engine, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    from digest.clock import utcnow

    clock.set(utcnow())
    rt = runtime_with(tmp_path, engine, clock)
    assert tasks.collect_new(rt) == "nothing new"
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    point(rt, "wigan", fake_moderngov.url())
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council)
            .where(Council.slug == "wigan")
            .values(status=CouncilStatus.ENABLED, enabled_at=rt.now())
        )
    assert "1 of 1 councils collected" in tasks.collect_new(rt)
    assert tasks.collect_new(rt) == "nothing new"
