"""Collection of the 32 CMIS councils of the bundled list from a loopback fake CMIS
(tests/support/cmis.py, built from the real Birmingham pages) whose month calendar pages
take 2 s each, as slow CMIS hosts do (issue 16; Birmingham takes about 40 s).

Each council is on its own host, as in the bundled list. Pass: wall time ≤ 1.25 ×
(requests of the busiest host × (month-page latency + per_host_interval)), no host ever
saw two requests at once or a gap below the interval, nothing failed, and a re-poll with
nothing new made one conditional request per month page (answered 304) plus the base
page and the list view, and no meeting page. `--quick` scales the latency and interval
down fourfold (0.5 s and 0.25 s), which leaves the formula's proportions unchanged.
Each host is its own server on its own loopback address (127.0.0.2, .3, ...): the
fetcher queues requests per server address.
"""

from __future__ import annotations

import collections
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from bench.fake_councils import FakeCouncils, politeness_ok
from digest import councils, enablement, schema
from digest.clock import utcnow
from digest.collector.http_client import Fetcher
from digest.collector.runner import Collector
from digest.config import Config
from digest.db import make_engine, make_sessionmaker
from digest.models import Council, CouncilSystem, Meeting
from tests.support.cmis import CmisMeeting, CmisSite
from tests.support.moderngov import FakeSite


def _host_of(council: Council) -> str:
    return f"{urlsplit(council.base_url).hostname or council.slug}.test".lower()


def _meetings(first_id: int, today: Any) -> list[CmisMeeting]:
    """Held meetings with minutes, one cancelled, upcoming ones: six a council."""
    committees = ("Cabinet", "Planning Committee", "Council")
    out = []
    for n, offset in enumerate((-12, -8, -3, 4, 9, 20)):
        out.append(
            CmisMeeting(
                id=str(first_id + n),
                committee_id=str(n % 3 + 1),
                committee=committees[n % 3],
                date=today + timedelta(days=offset),
                status="Cancelled" if offset == 4 else "Scheduled",
                minutes=offset < 0,
            )
        )
    return out


def run(quick: bool) -> dict[str, Any]:
    scale = 0.25 if quick else 1.0
    month_latency, interval = 2.0 * scale, 1.0 * scale
    today = utcnow().date()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        schema.upgrade(engine)
        with make_sessionmaker(engine).begin() as session:
            councils.import_bundled(session, utcnow())
            chosen = list(
                session.scalars(
                    sa.select(Council)
                    .where(Council.system == CouncilSystem.CMIS)
                    .order_by(Council.slug)
                )
            )
            hosts = {council.id: _host_of(council) for council in chosen}
            session.expunge_all()
        sites: dict[str, FakeSite] = {}
        for index, council in enumerate(chosen):
            sites[hosts[council.id]] = CmisSite(
                cmis_meetings=_meetings((index + 1) * 100, today),
                month_delay=month_latency,
                etag=True,
            )
        fake = FakeCouncils(sites)
        try:
            with make_sessionmaker(engine).begin() as session:
                for council in chosen:
                    enablement.enable(
                        session,
                        session.get_one(Council, council.id),
                        utcnow(),
                        base_url=(f"http://{hosts[council.id]}:{fake.port}/birmingham"),
                    )
            config = Config().replace(
                database={"url": str(engine.url)},
                collector={
                    "allow_private_hosts": True,
                    "per_host_interval": interval,
                    "concurrency": len(chosen),
                    "cmis_timeout": 30.0,
                },
            )
            sessions = make_sessionmaker(engine)
            read_sessions = make_sessionmaker(engine, readonly=True)

            def collector() -> Collector:
                fetcher = Fetcher(config.collector, resolver=fake.resolver)
                return Collector(sessions, read_sessions, config, clock=utcnow, fetcher=fetcher)

            started = time.perf_counter()
            first = collector().run_all()
            wall = time.perf_counter() - started
            log = fake.log()
            per_host = collections.Counter(entry.host for entry in log)
            busiest = max(per_host.values())
            reference = 1.25 * busiest * (month_latency + interval)
            polite = politeness_ok(log, interval)
            with read_sessions() as session:
                stored = session.scalar(sa.select(sa.func.count()).select_from(Meeting)) or 0

            fake.clear_log()
            started = time.perf_counter()
            again = collector().run_all()
            repoll_wall = time.perf_counter() - started
            relog = fake.log()
            months = [e for e in relog if "MeetingCalendarPublicNoJava" in e.path]
            per_council = collections.Counter(e.host for e in relog)
            repoll_ok = (
                all(e.status == 304 for e in months)
                and not any("ViewMeetingPublic" in e.path for e in relog)
                and all(n == len(months) // len(chosen) + 2 for n in per_council.values())
                and all(o.ok and o.new == o.changed == 0 for o in again.outcomes)
            )
            polite = polite and politeness_ok(relog, interval)
        finally:
            fake.stop()
            engine.dispose()
    failures = [o.error for o in first.failed]
    return {
        "councils": len(chosen),
        "hosts": len(sites),
        "month_page_latency_seconds": month_latency,
        "per_host_interval": interval,
        "scaled_down": quick,
        "concurrency": config.collector.concurrency,
        "requests": len(log),
        "requests_busiest_host": busiest,
        "meetings_stored": stored,
        "failures": failures[:5],
        "wall_seconds": round(wall, 2),
        "reference_seconds": round(reference, 2),
        "ratio": round(wall / reference, 3),
        "polite": polite,
        "repoll": {
            "wall_seconds": round(repoll_wall, 2),
            "requests": len(relog),
            "month_pages": len(months),
            "month_pages_not_modified": sum(1 for e in months if e.status == 304),
            "conditional_months_only": repoll_ok,
        },
        "pass": wall <= reference and polite and repoll_ok and not failures,
    }
