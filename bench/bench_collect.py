"""Collection of 380 councils from a loopback fake ModernGov that answers every request
after 100 ms (SPEC §11).

Councils map to hosts as in the bundled list: each council's own democracy host, with
the five shared installs (Adur/Worthing, ...) serving two councils from one host. One
loopback server plays every host (it routes on the Host header; the collector resolves
every name to 127.0.0.1), and logs each request with its start and end per host.

One held meeting per council publishes its minutes only as a PDF (SPEC §12.1): the
collector asks for that meeting's page once more (`ieListDocuments.aspx`); the PDF
itself is read later by the workers.

Pass: wall time ≤ 1.25 × (requests of the busiest host × (latency + per_host_interval)),
no host ever saw two requests at once or a gap below the interval, and a re-poll with
nothing new made exactly one request per council. `concurrency` is set to the number of
hosts: the figure measures that per-host politeness is the only thing that bounds a run.
"""

from __future__ import annotations

import collections
import statistics
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
from digest.models import Council, CouncilSystem, Document, Meeting
from tests.support.moderngov import (
    FakeMeeting,
    FakeSite,
    Reply,
    meeting_page_html,
)

LATENCY = 0.1
MEETINGS_PER_COUNCIL = 6


def _host_of(council: Council) -> str:
    original = urlsplit(council.base_url).hostname if council.base_url else None
    return f"{original or council.slug + '.moderngov'}.test".lower()


def _meetings(council: Council, first_id: int, today: Any) -> list[FakeMeeting]:
    """Three held meetings (two with minutes, one whose minutes are a PDF on its page), a
    cancelled one, two upcoming with agendas: nothing due again within `recheck_hours`,
    so a re-poll needs no GetMeeting."""
    name = council.short_name
    days = (-12, -8, -3, 4, 9, 20)
    out = []
    for n, offset in enumerate(days[:MEETINGS_PER_COUNCIL]):
        out.append(
            FakeMeeting(
                id=str(first_id + n),
                committee_id=f"{first_id // 100}{n % 3}",
                committee_title=f"{name} {('Cabinet', 'Planning Committee', 'Council')[n % 3]}",
                date=today + timedelta(days=offset),
                status="Cancelled" if offset == 4 else "Confirmed",
                agenda=offset != 4,
                minutes=offset < 0 and offset != PDF_ONLY_OFFSET,
            )
        )
    return out


PDF_ONLY_OFFSET = -3


def _pages(meetings: list[FakeMeeting]) -> dict[str, Reply]:
    """The public page of each meeting whose minutes exist only as a PDF."""
    pages: dict[str, Reply] = {}
    for m in meetings:
        if not m.minutes and m.date < utcnow().date() and m.status != "Cancelled":
            link = ("Printed minutes", f"documents/g{m.id}/Printed minutes.pdf")
            body = meeting_page_html(m.committee_title, m.date.isoformat(), [link])
            pages[f"/ieListDocuments.aspx?MId={m.id}"] = Reply(body, content_type="text/html")
    return pages


def _arrange(engine: Any, count: int) -> tuple[list[Council], dict[str, list[Council]]]:
    """Enable `count` councils (both members of every shared install among them)."""
    now = utcnow()
    with make_sessionmaker(engine).begin() as session:
        councils.import_bundled(session, now)
        chosen = list(session.scalars(sa.select(Council)))
        chosen.sort(key=lambda c: (not c.shared_install_with, c.slug))
        chosen = chosen[:count]
        hosts: dict[str, list[Council]] = collections.defaultdict(list)
        for council in chosen:
            hosts[_host_of(council)].append(council)
        session.expunge_all()
    return chosen, hosts


def run(quick: bool) -> dict[str, Any]:
    count = 40 if quick else 380
    interval = 0.2 if quick else 1.0
    today = utcnow().date()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}")
        schema.upgrade(engine)
        chosen, hosts = _arrange(engine, count)
        sites: dict[str, FakeSite] = {}
        for index, (host, members) in enumerate(sorted(hosts.items())):
            sites[host] = FakeSite()
            for offset, council in enumerate(members):
                first_id = (index * 10 + offset + 1) * 100
                sites[host].meetings += _meetings(council, first_id, today)
            sites[host].files = _pages(sites[host].meetings)
        fake = FakeCouncils(sites, LATENCY)
        try:
            with make_sessionmaker(engine).begin() as session:
                for council in chosen:
                    row = session.get_one(Council, council.id)
                    # The fake plays ModernGov for every council, whatever it really runs.
                    row.system = CouncilSystem.MODERNGOV
                    enablement.enable(
                        session,
                        row,
                        utcnow(),
                        base_url=f"http://{_host_of(council)}:{fake.port}",
                    )
            config = Config().replace(
                database={"url": str(engine.url)},
                collector={
                    "allow_private_hosts": True,
                    "per_host_interval": interval,
                    "concurrency": len(hosts),
                    "timeout": 30.0,
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
            reference = 1.25 * busiest * (LATENCY + interval)
            polite = politeness_ok(log, interval)
            with read_sessions() as session:
                stored = session.scalar(sa.select(sa.func.count()).select_from(Meeting)) or 0
                queued = dict(
                    session.execute(
                        sa.select(Document.kind, sa.func.count())
                        .where(Document.extract_state == "pending")
                        .group_by(Document.kind)
                    ).all()
                )
            pages = sum(1 for e in log if e.operation == "ieListDocuments.aspx")

            fake.clear_log()
            started = time.perf_counter()
            again = collector().run_all()
            repoll_wall = time.perf_counter() - started
            relog = fake.log()
            repoll_busiest = max(collections.Counter(e.host for e in relog).values())
            repoll_ok = (
                len(relog) == len(chosen)
                and all(e.operation == "GetMeetings" for e in relog)
                and all(o.ok and o.new == o.changed == 0 for o in again.outcomes)
            )
            polite = polite and politeness_ok(relog, interval)
        finally:
            fake.stop()
            engine.dispose()
    failures = [o.error for o in first.failed]
    return {
        "councils": len(chosen),
        "hosts": len(hosts),
        "latency_seconds": LATENCY,
        "per_host_interval": interval,
        "concurrency": config.collector.concurrency,
        "requests": len(log),
        "requests_busiest_host": busiest,
        "requests_per_host": {
            "min": min(per_host.values()),
            "median": statistics.median(per_host.values()),
            "max": busiest,
        },
        "meetings_stored": stored,
        "meeting_pages_fetched": pages,
        # Read later by the workers, not during collection.
        "pdfs_queued": {"minutes": queued.get("minutes", 0), "reports": queued.get("report", 0)},
        "failures": failures[:5],
        "wall_seconds": round(wall, 2),
        "reference_seconds": round(reference, 2),
        "ratio": round(wall / reference, 3),
        "polite": polite,
        "repoll": {
            "wall_seconds": round(repoll_wall, 2),
            "requests_busiest_host": repoll_busiest,
            "requests": len(relog),
            "requests_per_council": round(len(relog) / max(1, len(chosen)), 3),
            "one_request_per_council": repoll_ok,
        },
        "pass": wall <= reference and polite and repoll_ok and not failures,
    }
