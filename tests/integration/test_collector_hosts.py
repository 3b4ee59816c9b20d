"""Councils and hosts: two councils on one shared ModernGov install are kept apart, and
a host never sees more than one request at a time from us."""

from __future__ import annotations

import ipaddress
import itertools
from datetime import timedelta

import sqlalchemy as sa

from digest import councils, enablement
from digest.collector.addresses import IPAddress
from digest.models import Committee, Council
from digest.runtime import Runtime
from tests.integration.collecting import collect, meetings_of, point_at_fake
from tests.support.moderngov import FakeMeeting, FakeModernGov, FakeSite, manchester_like

SHARED = "democracy.adur-worthing.test"


def _shared_install(rt: Runtime, fake: FakeModernGov) -> None:
    today = rt.now().date()
    soon = today + timedelta(days=5)
    fake.add_site(
        SHARED,
        FakeSite(
            meetings=[
                FakeMeeting("501", "10", "Adur Planning Committee", soon),
                FakeMeeting("502", "20", "Worthing Planning Committee", soon),
                # Escaped twice on the wire ("&amp;amp;"), as some installs do.
                FakeMeeting("503", "30", "Adur &amp; Worthing Joint Strategic Committee", soon),
                FakeMeeting("504", "40", "Licensing Committee", soon + timedelta(days=1)),
                FakeMeeting("505", "20", "Worthing Planning Committee", soon + timedelta(days=7)),
            ]
        ),
    )
    point_at_fake(rt, "adur", fake, SHARED)
    point_at_fake(rt, "worthing", fake, SHARED)


def test_two_councils_on_one_install_are_kept_apart(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    _shared_install(rt, fake_moderngov)

    report = collect(rt, settings={"per_host_interval": 0.01, "concurrency": 4})

    assert all(o.ok for o in report.outcomes), report.summary()
    adur, worthing = meetings_of(rt, "adur"), meetings_of(rt, "worthing")
    assert set(adur) == {"501", "503", "504"}
    assert set(worthing) == {"502", "503", "504", "505"}
    # The joint committee's meeting belongs to both, as two separate rows.
    assert adur["503"].id != worthing["503"].id
    assert adur["503"].committee == "Adur & Worthing Joint Strategic Committee"
    with rt.read_sessions() as session:
        committees = session.execute(
            sa.select(Council.slug, Committee.source_id)
            .join(Council, Committee.council_id == Council.id)
            .order_by(Council.slug, Committee.source_id)
        ).all()
    assert [tuple(row) for row in committees] == [
        ("adur", "10"),
        ("adur", "30"),
        ("adur", "40"),
        ("worthing", "20"),
        ("worthing", "30"),
        ("worthing", "40"),
    ]
    # Details were asked only for each council's own meetings.
    asked = sorted(
        r.query.split("=")[-1]
        for r in fake_moderngov.requests_to(SHARED)
        if r.operation == "GetMeeting"
    )
    assert asked == ["501", "502", "503", "503", "504", "504", "505"]


def test_an_operator_filter_overrides_the_default_rule(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    _shared_install(rt, fake_moderngov)
    with rt.sessions.begin() as session:
        worthing = councils.get_by_slug(session, "worthing")
        assert worthing is not None
        worthing.committee_filter = r"^Worthing\b"
    collect(rt, "worthing")
    assert set(meetings_of(rt, "worthing")) == {"502", "505"}


def test_each_host_gets_one_request_at_a_time_with_the_interval_between(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    _shared_install(rt, fake_moderngov)
    today = rt.now().date()
    # Wigan is another server: another loopback address (the gate keys on addresses).
    other = FakeModernGov(address="::1")
    other.add_site("democracy.wigan.test", FakeSite(meetings=manchester_like(today)))
    with rt.sessions.begin() as session:
        wigan_council = councils.get_by_slug(session, "wigan")
        assert wigan_council is not None
        enablement.enable(
            session, wigan_council, rt.now(), base_url=f"http://democracy.wigan.test:{other.port}"
        )
    fake_moderngov.latency = other.latency = 0.01
    interval = 0.04

    def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("::1" if "wigan" in host else "127.0.0.1")]

    try:
        report = collect(
            rt, settings={"per_host_interval": interval, "concurrency": 4}, resolver=resolver
        )
    finally:
        other.stop()

    assert len(report.outcomes) == 3 and all(o.ok for o in report.outcomes)
    for fake, host in ((fake_moderngov, SHARED), (other, "democracy.wigan.test")):
        served = sorted(fake.requests_to(host), key=lambda r: r.started)
        assert len(served) >= 4
        gaps = [after.started - before.finished for before, after in itertools.pairwise(served)]
        assert min(gaps) >= interval, (host, gaps)
    shared = fake_moderngov.requests_to(SHARED)
    wigan = other.requests_to("democracy.wigan.test")
    assert any(a.started < b.finished and b.started < a.finished for a in shared for b in wigan)
