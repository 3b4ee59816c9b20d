"""Topics (SPEC §12.3, issue 17), on SQLite:

1. the week's digests for 100,000 subscribers over 380 councils where 30% chose topics
   (drawn from 50 distinct selections): <= 30 s and <= 500 MB. The whole-council build of
   bench_build (same data, nobody choosing topics) runs in the same process order as the
   reference figure;
2. matching 10,000 topic watches against a day's 5,000 new agenda items and queueing
   their alerts: <= 10 s.

Agenda item titles are the 309 real ones of tests/fixtures/topics/labelled_items.tsv,
tagged by the tagger while seeding (not timed), so the topic mix is a real one.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time as clock
from datetime import timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench import bench_build
from bench.bench_build import AGENDA, BUILD_AT, CHILD, MINUTES, WEEK

BUILD_LIMIT_SECONDS = 30.0
BUILD_LIMIT_MB = 500.0
MATCH_LIMIT_SECONDS = 10.0
LABELLED = Path(__file__).parent.parent / "tests" / "fixtures" / "topics" / "labelled_items.tsv"
KEYWORDS = [
    "transport", "SEND", "school places", "homelessness", "parking", "local plan",
    "leisure centre", "council tax", "libraries", "flood", "recycling", "licensing",
]  # fmt: skip


def _titles() -> list[str]:
    with LABELLED.open(newline="", encoding="utf-8") as f:
        return [row["title"] for row in csv.DictReader(f, delimiter="\t")]


def _retitle(url: str) -> None:
    """Real titles on the seeded items, tagged as the collector would tag them."""
    from digest.db import make_engine
    from digest.topics import taxonomy
    from digest.weekly.resolutions import extract_resolutions

    tax = taxonomy()
    titles = _titles()
    rng = random.Random(17)
    decisions = extract_resolutions(MINUTES)
    cache: dict[tuple[str, bool], list[str]] = {}
    engine = make_engine(url)
    with engine.begin() as conn:
        rows = conn.execute(sa.text("SELECT id, minutes_text != '' FROM agenda_items")).all()
        updates = []
        for item_id, has_minutes in rows:
            title = rng.choice(titles)
            key = (title, bool(has_minutes))
            if key not in cache:
                cache[key] = tax.tag(title, AGENDA, decisions if has_minutes else [])
            updates.append(
                {"i": item_id, "t": title, "g": json.dumps(cache[key]), "v": tax.version}
            )
        conn.execute(
            sa.text("UPDATE agenda_items SET title=:t, topics=:g, topics_version=:v WHERE id=:i"),
            updates,
        )
    engine.dispose()


def _choose_topics(url: str, share: float = 0.3, distinct: int = 50) -> int:
    from digest.db import make_engine
    from digest.topics import taxonomy

    rng = random.Random(23)
    slugs = list(taxonomy().slugs)
    selections = [sorted(rng.sample(slugs, rng.choice((1, 1, 2, 2, 3)))) for _ in range(distinct)]
    engine = make_engine(url)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM subscriptions ORDER BY id"))]
        chosen = rng.sample(ids, int(len(ids) * share))
        conn.execute(
            sa.text("UPDATE subscriptions SET topics=:t WHERE id=:i"),
            [{"i": i, "t": json.dumps(rng.choice(selections))} for i in chosen],
        )
    engine.dispose()
    return len(chosen)


def _build(db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, f"sqlite:///{db}", BUILD_AT.isoformat(), WEEK],
        cwd=bench_build.ROOT,  # the child imports tests.support
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _seed_watches(url: str, council_ids: list[int], watches_n: int, items_n: int) -> None:
    """`items_n` items first seen in the last day, `watches_n` active daily watches."""
    from digest.db import make_engine
    from digest.topics import taxonomy

    rng = random.Random(29)
    slugs = list(taxonomy().slugs)
    engine = make_engine(url)
    since = BUILD_AT - timedelta(days=1)
    with engine.begin() as conn:
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM agenda_items"))]
        fresh = rng.sample(ids, items_n)
        conn.execute(
            sa.text("UPDATE agenda_items SET first_seen_at=:s WHERE id=:i"),
            [{"i": i, "s": BUILD_AT - timedelta(hours=rng.randint(1, 20))} for i in fresh],
        )
        # Old news for the rest: the window must not reach them.
        conn.execute(
            sa.text("UPDATE agenda_items SET first_seen_at=:s WHERE first_seen_at IS NULL"),
            {"s": BUILD_AT - timedelta(days=30)},
        )
        start = 1_000_000
        conn.execute(
            sa.text("INSERT INTO subscribers (id, email, created_at) VALUES (:i, :e, :c)"),
            [
                {"i": start + n, "e": f"watcher{n}@example.net", "c": since}
                for n in range(watches_n)
            ],
        )
        rows = []
        for n in range(watches_n):
            councils = [] if rng.random() < 0.5 else rng.sample(council_ids, rng.randint(1, 3))
            keywords = [rng.choice(KEYWORDS)] if rng.random() < 0.3 else []
            topics = sorted(rng.sample(slugs, rng.randint(1, 2)))
            rows.append(
                {
                    "s": start + n,
                    "t": json.dumps(topics),
                    "k": json.dumps(keywords),
                    "c": json.dumps(councils),
                    "at": since,
                }
            )
        conn.execute(
            sa.text(
                "INSERT INTO watches (subscriber_id, status, frequency, topics, keywords, "
                "council_ids, created_at, confirmed_at, matched_until, ip_hash) VALUES "
                "(:s, 'active', 'daily', :t, :k, :c, :at, :at, :at, '')"
            ),
            rows,
        )
    engine.dispose()


WATCH_CHILD = """
import json, sys, time
from datetime import datetime
from digest.config import Config
from digest.links import Links
from digest.db import make_engine, make_sessionmaker
from digest.tokens import Tokens
from digest import watches

url, now = sys.argv[1], datetime.fromisoformat(sys.argv[2])
config = Config().replace(
    site={"secret_key": "bench-secret-key-0123456789-abcdefghijklmnop",
          "base_url": "https://councildigest.example.org"},
    database={"url": url},
)
engine = make_engine(url)
links = Links(config.site.base_url, Tokens(config.site.secret_key))
settings = watches.alert_settings(config, links)
started, cpu_started = time.perf_counter(), time.process_time()
with make_sessionmaker(engine)() as session:
    run = watches.send_alerts(session, "daily", now, settings)
    session.commit()
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
with open("/proc/self/status") as status:
    hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_mb": hwm / 1024,
                  "watches": run.watches,
                  "alerts": run.alerts, "matches": run.matches}))
"""


def _match(db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", WATCH_CHILD, f"sqlite:///{db}", BUILD_AT.isoformat()],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> dict[str, Any]:
    councils_n, meetings_per = (40, 50) if quick else (380, 50)
    subscribers = 10_000 if quick else 100_000
    watches_n, items_n = (1_000, 500) if quick else (10_000, 5_000)
    work = Path(tempfile.mkdtemp(prefix="bench-topics-"))
    try:
        seeded = clock.perf_counter()
        base = work / "base.sqlite3"
        chosen = bench_build._seed_meetings(f"sqlite:///{base}", councils_n, meetings_per)
        _retitle(f"sqlite:///{base}")
        everyone = work / "everyone.sqlite3"
        shutil.copyfile(base, everyone)
        bench_build._seed_subscribers(f"sqlite:///{everyone}", chosen, subscribers)
        filtered = work / "filtered.sqlite3"
        shutil.copyfile(everyone, filtered)
        choosing = _choose_topics(f"sqlite:///{filtered}")
        watching = work / "watches.sqlite3"
        shutil.copyfile(base, watching)
        _seed_watches(f"sqlite:///{watching}", chosen, watches_n, items_n)
        reference = _build(everyone)
        build = _build(filtered)
        match = _match(watching)
        timed = reference["seconds"] + build["seconds"] + match["seconds"]
        seed_seconds = clock.perf_counter() - seeded - timed
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok_build = (
        build["seconds"] <= BUILD_LIMIT_SECONDS
        and build["peak_mb"] <= BUILD_LIMIT_MB
        and not build["failed"]
    )
    ok_match = match["seconds"] <= MATCH_LIMIT_SECONDS and match["watches"] == watches_n
    return {
        "councils": councils_n,
        "subscribers": subscribers,
        "subscribers_choosing_topics": choosing,
        "build_seconds": round(build["seconds"], 2),
        "build_peak_mb": round(build["peak_mb"], 1),
        "build_emails_queued": build["queued"],
        "build_processes": build["processes"],
        "reference_build_without_topic_choices_seconds": round(reference["seconds"], 2),
        "reference_build_peak_mb": round(reference["peak_mb"], 1),
        # Readings that hold on a busy machine: the builds' CPU time (wall time counts
        # waiting for a core) and their ratio, both measured in this run.
        "build_cpu_seconds": round(build["cpu_seconds"], 2),
        "reference_build_cpu_seconds": round(reference["cpu_seconds"], 2),
        "build_to_reference_cpu_ratio": round(build["cpu_seconds"] / reference["cpu_seconds"], 2)
        if reference["cpu_seconds"]
        else 0.0,
        "watches": watches_n,
        "new_items": items_n,
        "match_seconds": round(match["seconds"], 2),
        "match_cpu_seconds": round(match["cpu_seconds"], 2),
        "match_peak_mb": round(match["peak_mb"], 1),
        "alerts_queued": match["alerts"],
        "matches": match["matches"],
        "seed_seconds_not_timed": round(seed_seconds, 1),
        "limits": {
            "build_seconds": BUILD_LIMIT_SECONDS,
            "build_peak_mb": BUILD_LIMIT_MB,
            "match_seconds": MATCH_LIMIT_SECONDS,
        },
        "pass": ok_build and ok_match,
    }


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
