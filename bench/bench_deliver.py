"""Delivery throughput: `digest send` (the real code path: claim, re-check, compose with
per-recipient links, send, record) against a bare smtplib loop sending the same messages
to the same loopback aiosmtpd sink in the same run. Then messages per second with 1, 2
and 4 `digest worker` processes sharing one PostgreSQL outbox.

Both clients run as separate processes; the sink runs in this one.
"""

from __future__ import annotations

import mailbox
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

REQUIRED_RATIO = 0.8
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 (throwaway)
PG_ADMIN_URL = os.environ.get(
    "DIGEST_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parent.parent


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 2.0.0 Ok: queued"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _config(path: Path, url: str, port: int, var: Path) -> Path:
    path.write_text(
        f'[site]\nsecret_key = "{SECRET}"\nbase_url = "https://councildigest.example.org"\n'
        f'var_dir = "{var}"\n[database]\nurl = "{url}"\n'
        f'[mail]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
        'from_address = "digest@councildigest.example.org"\nrate_per_second = 0.0\n'
        "domain_rates = {}\nbatch_size = 100\n"
    )
    return path


def _populate(url: str, n: int) -> None:
    """n confirmed subscribers of one council and a digest-sized weekly digest for each."""
    sys.path.insert(0, str(ROOT))
    from digest import councils, schema
    from digest.db import make_engine, make_sessionmaker
    from digest.mail import outbox
    from digest.models import Subscriber, Subscription, SubscriptionStatus
    from tests.support import digests
    from tests.support.clock import DEFAULT_NOW as now

    # A digest of the size the weekly build produces for a busy council (~25 KB wire).
    if len(digests.MEETINGS) == 2:
        digests.MEETINGS[:] = digests.MEETINGS * 3
        digests.UPCOMING[:] = digests.UPCOMING * 3
    engine = make_engine(url)
    schema.upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        councils.import_bundled(session, now)
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        digest = digests.make_digest(session, council, "2026-W48", now)
        session.execute(
            sa.insert(Subscriber),
            [{"email": f"reader{i:05d}@example{i % 5}.net", "created_at": now} for i in range(n)],
        )
        ids = dict(session.execute(sa.select(Subscriber.email, Subscriber.id)).tuples().all())
        session.execute(
            sa.insert(Subscription),
            [
                {
                    "subscriber_id": sid,
                    "council_id": council.id,
                    "status": SubscriptionStatus.ACTIVE,
                    "created_at": now,
                    "requested_at": now,
                    "confirmed_at": now,
                }
                for sid in ids.values()
            ],
        )
        subs = session.execute(sa.select(Subscription.subscriber_id, Subscription.id)).all()
        by_subscriber = dict(subs)
        outbox.enqueue_many(
            session,
            [
                {
                    "purpose": "weekly_digest",
                    "reference": f"digest:{digest.id}",
                    "recipient": email,
                    "subscriber_id": sid,
                    "subscription_id": by_subscriber[sid],
                    "council_id": council.id,
                    "digest_id": digest.id,
                }
                for email, sid in ids.items()
            ],
            now=now,
            domain="councildigest.example.org",
        )
    engine.dispose()


def _reset(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE outbox_messages SET status = 'pending', attempts = 0, lease_until = NULL, "
            "worker = NULL, sent_at = NULL, next_attempt_at = created_at"
        )
    engine.dispose()


def _digest_cli(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from digest.cli import main; main()",
            "--config",
            str(config),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")},
        cwd=ROOT,
    )


BARE_LOOP = """
import mailbox, smtplib, sys, time
box = mailbox.Maildir(sys.argv[1], factory=None, create=False)
messages = [box.get_bytes(k).replace(b"\\n", b"\\r\\n") for k in sorted(box.keys())]
started = time.perf_counter()
conn = smtplib.SMTP("127.0.0.1", int(sys.argv[2]), timeout=30)
for raw in messages:
    head = raw.split(b"\\r\\n", 2)
    sender = head[0].split(b"<")[1].split(b">")[0].decode()
    recipient = head[1].split(b": ", 1)[1].decode()
    conn.sendmail(sender, [recipient], head[2])
conn.quit()
print(time.perf_counter() - started)
"""


def _timed_send(config: Path, sink: CountingSink, n: int) -> tuple[float, float]:
    """(seconds the delivery loop took as `digest send` reports it, seconds including
    starting the process)."""
    before = sink.count
    started = time.perf_counter()
    process = _digest_cli(config, "send")
    output, _ = process.communicate(timeout=1800)
    elapsed = time.perf_counter() - started
    text = output.decode()
    assert process.returncode == 0, text
    assert sink.count - before == n, (sink.count - before, text[-2000:])
    match = re.search(r"in ([\d.]+) s", text)
    assert match, text
    return float(match.group(1)), elapsed


def _sqlite_ratio(n: int, work: Path) -> dict[str, Any]:
    url = f"sqlite:///{work / 'digest.sqlite3'}"
    _populate(url, n)
    # The same messages, as `digest send` builds them, written once to a Maildir for
    # the bare loop (Return-Path and Delivered-To carry the envelope).
    maildir_config = work / "maildir.toml"
    maildir_config.write_text(
        _config(work / "tmp.toml", url, 1, work / "var")
        .read_text()
        .replace('backend = "smtp"', f'backend = "maildir"\nmaildir_path = "{work / "messages"}"')
    )
    process = _digest_cli(maildir_config, "send")
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output.decode()
    assert len(mailbox.Maildir(str(work / "messages"), create=False)) == n

    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    config = _config(work / "smtp.toml", url, port, work / "var")
    try:
        bare_times, ours_times = [], []
        for _round in range(2):  # alternate, keep the best of each
            before = sink.count
            bare = subprocess.run(
                [sys.executable, "-c", BARE_LOOP, str(work / "messages"), str(port)],
                capture_output=True,
                check=True,
            )
            assert sink.count - before == n
            bare_times.append(float(bare.stdout.decode().strip().splitlines()[-1]))
            _reset(url)
            ours_times.append(_timed_send(config, sink, n))
    finally:
        controller.stop()
    bare_rate = n / min(bare_times)
    ours_rate = n / min(loop for loop, _ in ours_times)
    return {
        "digest_send_with_process_start_msgs_per_s": round(
            n / min(whole for _, whole in ours_times), 1
        ),
        "messages": n,
        "message_bytes": _first_size(work / "messages"),
        "bare_smtplib_msgs_per_s": round(bare_rate, 1),
        "digest_send_msgs_per_s": round(ours_rate, 1),
        "ratio": round(ours_rate / bare_rate, 3),
    }


def _first_size(path: Path) -> int:
    box = mailbox.Maildir(str(path), factory=None, create=False)
    return len(box.get_bytes(sorted(box.keys())[0]))


def _postgres_workers(n: int, work: Path) -> dict[str, Any]:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"digest_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no PostgreSQL here: report, don't fail the benchmark
        admin.dispose()
        return {"skipped": f"PostgreSQL not available: {type(exc).__name__}"}
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(False)
    results: dict[str, Any] = {"messages": n}
    try:
        _populate(url, n)
        sink = CountingSink()
        port = _free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        config = _config(work / "pg.toml", url, port, work / "var")
        engine = sa.create_engine(url)
        try:
            for count in (1, 2, 4):
                _reset(url)
                before = sink.count
                started = time.perf_counter()
                workers = [
                    _digest_cli(config, "worker", "--idle-seconds", "0.05") for _ in range(count)
                ]
                deadline = time.monotonic() + 1800
                while sink.count - before < n and time.monotonic() < deadline:
                    time.sleep(0.05)
                elapsed = time.perf_counter() - started
                for worker in workers:
                    worker.send_signal(signal.SIGTERM)
                for worker in workers:
                    worker.communicate(timeout=60)
                with engine.connect() as conn:
                    sent = conn.exec_driver_sql(
                        "SELECT count(*) FROM outbox_messages WHERE status = 'sent'"
                    ).scalar()
                assert sent == n, sent
                assert sink.count - before == n, sink.count - before
                # Includes starting the worker processes (~1 s each, in parallel).
                results[f"workers_{count}_msgs_per_s"] = round(n / elapsed, 1)
        finally:
            controller.stop()
            engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
    return results


def run(quick: bool) -> dict[str, Any]:
    n = 500 if quick else 5_000
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        work = Path(tmp)
        sqlite = _sqlite_ratio(n, work)
        postgres = _postgres_workers(n, work)
    return {
        **sqlite,
        "required_ratio": REQUIRED_RATIO,
        "postgres": postgres,
        "pass": sqlite["ratio"] >= REQUIRED_RATIO,
    }
