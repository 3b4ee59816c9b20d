"""Weekly digest build: 380 enabled councils with 50 meetings each, 25,000 and then
100,000 active subscribers, on SQLite (SPEC §11: ≤ 20 s and ≤ 500 MB at 100,000, time
growing linearly with subscribers).

Seeding uses bulk inserts and is not timed. Each build runs in a fresh child process on
its own copy of the database, so its peak RSS (VmHWM) is the build's alone; the processes
rendering ahead of it (digest.weekly.ahead) are counted too, their peaks added to its
own, and their CPU time to its own. The 100,000 build runs again rendering in one process
only, for comparison.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
import tempfile
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

LONDON = ZoneInfo("Europe/London")
WEEK = "2026-W48"
BUILD_AT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
MONDAY = date(2026, 11, 23)
LIMIT_SECONDS = 20.0
LIMIT_MB = 500.0
ROOT = Path(__file__).resolve().parent.parent

MINUTES = (
    "The Committee considered a report of the Director of Finance on the proposals.\n\n"
    "RESOLVED:\n\n(1) That the report be noted.\n\n"
    "(2) That the recommendations in paragraph 4 of the report be approved.\n\n"
    "(3) That a further report be brought to the next meeting."
)
AGENDA = "To consider the report of the Strategic Director, attached, on the proposals."
TITLES = [
    "Apologies for Absence",
    "Declarations of Interest",
    "Minutes of the previous meeting",
    "Revenue Budget Monitoring 2026/27",
    "SEND Sufficiency Strategy",
    "Local Plan: Regulation 19 Consultation",
    "Work Programme",
]


def _seed_meetings(url: str, councils_n: int, meetings_per: int) -> list[int]:
    from digest import councils, schema
    from digest.db import make_engine

    engine = make_engine(url)
    schema.upgrade(engine)
    rng = random.Random(47)
    with engine.begin() as conn:
        from sqlalchemy.orm import Session

        with Session(bind=conn) as session:
            councils.import_bundled(session, BUILD_AT)
            session.flush()
        ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM councils ORDER BY id"))]
        chosen = ids[:councils_n]
        conn.execute(
            sa.text(
                "UPDATE councils SET status='enabled', enabled_at=:at, last_success_at=:ok, "
                "base_url='https://democracy.example.gov.uk' WHERE id=:id"
            ),
            [{"at": BUILD_AT - timedelta(days=60), "ok": BUILD_AT, "id": i} for i in chosen],
        )
        meetings, items, documents, changes = [], [], [], []
        meeting_id = item_id = 0
        for council_id in chosen:
            for n in range(meetings_per):
                meeting_id += 1
                # Spread over five weeks either side of the digest week.
                day = MONDAY + timedelta(days=rng.randint(-35, 34))
                start = datetime.combine(day, time(10 + n % 8), tzinfo=LONDON).astimezone(UTC)
                held = day < MONDAY
                meetings.append(
                    {
                        "id": meeting_id,
                        "council_id": council_id,
                        "source_id": str(meeting_id),
                        "committee_source_id": str(n % 12),
                        "committee": f"Committee {n % 12}",
                        "title": f"Committee {n % 12} - {day:%A, %-d %B, %Y}",
                        "start_date": day,
                        "start_at": start,
                        "time_known": True,
                        "end_time_text": "",
                        "venue": "Council Chamber, Town Hall",
                        "status": "cancelled" if n % 17 == 0 else "scheduled",
                        "status_label": "",
                        "source_url": f"https://democracy.example.gov.uk/ieListDocuments.aspx?MId={meeting_id}",
                        "is_webcast": False,
                        "agenda_published": True,
                        "minutes_published": held,
                        "list_signature": "",
                        "detail_signature": "",
                        "first_seen_at": BUILD_AT - timedelta(days=60),
                        "last_seen_at": BUILD_AT,
                        "updated_at": BUILD_AT - timedelta(days=rng.randint(0, 30)),
                    }
                )
                for position, title in enumerate(TITLES):
                    item_id += 1
                    items.append(
                        {
                            "id": item_id,
                            "meeting_id": meeting_id,
                            "source_id": str(item_id),
                            "position": position,
                            "number": f"{position + 1}.",
                            "title": title,
                            "agenda_text": AGENDA,
                            "minutes_text": MINUTES if held and position > 2 else "",
                            "resolutions": [],
                            "is_restricted": position == 6 and n % 5 == 0,
                            "is_decision": False,
                        }
                    )
                for d in range(2):
                    documents.append(
                        {
                            "meeting_id": meeting_id,
                            "agenda_item_id": None,
                            "source_id": "",
                            "position": d,
                            "title": "Public reports pack" if d == 0 else f"Report {n}",
                            "url": f"https://democracy.example.gov.uk/doc/{meeting_id}/{d}.pdf",
                            "published_on": None,
                            "is_restricted": False,
                        }
                    )
                if held:
                    changes.append(
                        {
                            "council_id": council_id,
                            "meeting_id": meeting_id,
                            "kind": "minutes_published",
                            "seen_at": start + timedelta(days=rng.randint(2, 12)),
                            "detail": {},
                        }
                    )
        from digest.models import AgendaItem, Document, Meeting, MeetingChange

        conn.execute(sa.insert(Meeting.__table__), meetings)
        conn.execute(sa.insert(AgendaItem.__table__), items)
        conn.execute(sa.insert(Document.__table__), documents)
        conn.execute(sa.insert(MeetingChange.__table__), changes)
    engine.dispose()
    return chosen


def _seed_subscribers(url: str, council_ids: list[int], count: int) -> None:
    from digest.db import make_engine
    from digest.models import Subscriber, Subscription

    engine = make_engine(url)
    confirmed = BUILD_AT - timedelta(days=10)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(Subscriber.__table__),
            [
                {"id": i + 1, "email": f"reader{i}@example.net", "created_at": confirmed}
                for i in range(count)
            ],
        )
        conn.execute(
            sa.insert(Subscription.__table__),
            [
                {
                    "subscriber_id": i + 1,
                    "council_id": council_ids[i % len(council_ids)],
                    "kind": "resident",
                    "status": "active",
                    "confirm_nonce": None,
                    "created_at": confirmed,
                    "requested_at": confirmed,
                    "confirmed_at": confirmed,
                    "unsubscribed_at": None,
                }
                for i in range(count)
            ],
        )
    engine.dispose()


CHILD = """
import json, os, resource, sys, time
from digest.config import Config
from digest.links import Links
from digest.db import make_engine, make_sessionmaker
from digest.weekly.ahead import processes_for
from digest.weekly.build import BuildSettings, councils_to_build
from digest.weekly.run import BuildReport, build_each
from digest.weekly.weeks import IsoWeek
from digest.tokens import Tokens
from datetime import datetime
from tests.support.processes import children, peak_kb

url, now, week = sys.argv[1], datetime.fromisoformat(sys.argv[2]), sys.argv[3]
config = Config().replace(
    site={"secret_key": "bench-secret-key-0123456789-abcdefghijklmnop",
          "base_url": "https://councildigest.example.org"},
    database={"url": url},
    digest={"build_processes": int(sys.argv[4]) if len(sys.argv) > 4 else 0},
)
engine = make_engine(url)
sessions = make_sessionmaker(engine)
links = Links(config.site.base_url, Tokens(config.site.secret_key))
started, cpu_started = time.perf_counter(), time.process_time()
with make_sessionmaker(engine, readonly=True)() as session:
    ids = [c.id for c in councils_to_build(session)]
report = BuildReport(week=week)
settings = BuildSettings.from_config(config)
children_kb = 0
steps = build_each(sessions, ids, IsoWeek.parse(week), now, settings, links, report)
for done, _ in enumerate(steps, 1):
    if done == len(ids):
        # The rendering workers and multiprocessing's resource tracker, while they run.
        children_kb = sum(peak_kb(pid) for pid in children())
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
# VmHWM, not getrusage: Linux carries ru_maxrss across fork and exec, so it would report
# the parent's seeding instead of this build.
hwm = peak_kb(os.getpid())
print(json.dumps({"seconds": elapsed,
                  # Every process's CPU: this one's and the rendering workers'.
                  "cpu_seconds": cpu + workers.ru_utime + workers.ru_stime,
                  "build_cpu_seconds": cpu,
                  # The peaks of all processes added up, as if they had peaked at once.
                  "peak_mb": (hwm + children_kb) / 1024,
                  "build_peak_mb": hwm / 1024,
                  "processes": processes_for(settings.processes) if report.rendered_ahead else 1,
                  "queued": report.queued,
                  "digests": report.created, "failed": len(report.failed)}))
"""


def _build(db: Path, processes: int = 0) -> dict[str, Any]:
    """A build in a child process on a copy of `db`, so that the next build starts from
    the same data; `processes` as `[digest] build_processes`."""
    run_db = db.with_suffix(".run.sqlite3")
    shutil.copyfile(db, run_db)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            f"sqlite:///{run_db}",
            BUILD_AT.isoformat(),
            WEEK,
            str(processes),
        ],
        cwd=ROOT,  # the child imports tests.support
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> dict[str, Any]:
    councils_n, meetings_per = (40, 50) if quick else (380, 50)
    sizes = (2_500, 10_000) if quick else (25_000, 100_000)
    work = Path(tempfile.mkdtemp(prefix="bench-build-"))
    try:
        seeded = clock.perf_counter()
        base = work / "base.sqlite3"
        chosen = _seed_meetings(f"sqlite:///{base}", councils_n, meetings_per)
        results = {}
        for size in sizes:
            db = work / f"subscribers-{size}.sqlite3"
            shutil.copyfile(base, db)
            _seed_subscribers(f"sqlite:///{db}", chosen, size)
            results[size] = _build(db)
        # The same build rendering in the building process only, for comparison.
        alone = _build(db, processes=1)
        timed = sum(r["seconds"] for r in results.values()) + alone["seconds"]
        seed_seconds = clock.perf_counter() - seeded - timed
    finally:
        shutil.rmtree(work, ignore_errors=True)
    small, large = (results[s] for s in sizes)
    ratio = large["seconds"] / small["seconds"] if small["seconds"] else 0.0
    ok_time = large["seconds"] <= LIMIT_SECONDS
    ok_memory = large["peak_mb"] <= LIMIT_MB
    # 4x the subscribers may cost at most 4x the time (rendering is per council, so less).
    linear = ratio <= sizes[1] / sizes[0]
    complete = all(r["queued"] == s and not r["failed"] for s, r in results.items())
    return {
        "councils": councils_n,
        "meetings_per_council": meetings_per,
        "subscribers": list(sizes),
        "seconds": {str(s): round(results[s]["seconds"], 2) for s in sizes},
        "peak_mb": {str(s): round(results[s]["peak_mb"], 1) for s in sizes},
        "emails_queued": {str(s): results[s]["queued"] for s in sizes},
        "digests_built": large["digests"],
        "processes": large["processes"],
        # All processes' CPU; the peak above adds up every process's peak.
        "cpu_seconds": {str(s): round(results[s]["cpu_seconds"], 2) for s in sizes},
        "building_process_peak_mb": round(large["build_peak_mb"], 1),
        "one_process": {
            "seconds": round(alone["seconds"], 2),
            "peak_mb": round(alone["peak_mb"], 1),
            "identical_queue": alone["queued"] == large["queued"],
        },
        "time_ratio_large_to_small": round(ratio, 2),
        "ms_per_1000_extra_subscribers": round(
            1000 * 1000 * (large["seconds"] - small["seconds"]) / (sizes[1] - sizes[0]), 2
        ),
        "seed_seconds_not_timed": round(seed_seconds, 1),
        "limits": {"seconds": LIMIT_SECONDS, "peak_mb": LIMIT_MB},
        "pass": ok_time and ok_memory and linear and complete,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
