"""Delivery throughput, the way production runs: DKIM signing on (RSA 2048), VERP
return paths, the list headers, weekly digests of realistic size (~20 KB on the wire)
with personalised links.

- SQLite, one process: `digest send` (the real code path: claim, re-check, compose,
  sign, send, record) against a bare smtplib loop sending the same received bytes to the
  same loopback aiosmtpd sink in the same run: five rounds of each, alternating, the
  best of each compared (every round is reported, with the share of CPU time the
  hypervisor gave other guests meanwhile).
- PostgreSQL, 1, 2 and 4 `digest worker` processes sharing one outbox, each figure with
  its own bare-loop reference taken just before it, both timed at the sink (first to
  last message received), so process start-up is not counted for either.
- Where the time goes per message: composing (with serialising and, for a digest, the
  body hash), DKIM signing, and the SMTP exchange (the bare loop's time per message),
  measured in this process. `digest send` signs on a second thread while the first goes
  on (the private-key operation releases the GIL), so "rest" can come out below zero.

Both clients run as separate processes; the sink runs in this one.
"""

from __future__ import annotations

import mailbox
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller

from bench.postgres import NoPostgres, throwaway_database

REQUIRED_RATIO = 0.8
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105 (throwaway)
ROOT = Path(__file__).resolve().parent.parent


class CountingSink:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            now = time.perf_counter()
            if self.count == 0 or now - self.last > 5:
                self.first = now  # a new round after a pause
            self.count += 1
            self.last = now
        return "250 2.0.0 Ok: queued"

    def span_since(self, before: int, n: int) -> float:
        """Seconds from the first to the last of the n messages received after `before`."""
        deadline = time.monotonic() + 1800
        while self.count - before < n and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.count - before == n, (self.count - before, n)
        return self.last - self.first


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _dkim_key(work: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = work / "dkim.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _config(path: Path, url: str, port: int, var: Path) -> Path:
    """Production settings: DKIM on, VERP on (bounce_domain), no rate limit."""
    key = var.parent / "dkim.pem"
    path.write_text(
        f'[site]\nsecret_key = "{SECRET}"\nbase_url = "https://councildigest.example.org"\n'
        f'var_dir = "{var}"\n[database]\nurl = "{url}"\n'
        f'[mail]\nbackend = "smtp"\nsmtp_host = "127.0.0.1"\nsmtp_port = {port}\n'
        'from_address = "digest@councildigest.example.org"\nrate_per_second = 0.0\n'
        'bounce_domain = "bounces.councildigest.example.org"\n'
        'dkim_domain = "councildigest.example.org"\ndkim_selector = "s2026a"\n'
        f'dkim_private_key_path = "{key}"\n'
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


def _received_copies(url: str, work: Path, name: str, n: int) -> Path:
    """The messages exactly as `digest send` builds them (signed, VERP), written once to a
    Maildir for the bare loop (Return-Path and Delivered-To carry the envelope)."""
    maildir_config = work / f"{name}-maildir.toml"
    maildir_config.write_text(
        _config(work / f"{name}-tmp.toml", url, 1, work / "var")
        .read_text()
        .replace('backend = "smtp"', f'backend = "maildir"\nmaildir_path = "{work / name}"')
    )
    process = _digest_cli(maildir_config, "send")
    output, _ = process.communicate(timeout=1800)
    assert process.returncode == 0, output.decode()
    assert len(mailbox.Maildir(str(work / name), create=False)) == n
    _reset(url)
    return work / name


def _bare_loop(messages: Path, port: int, sink: CountingSink, n: int) -> tuple[float, float]:
    """(seconds by the loop's own clock, seconds first-to-last at the sink)."""
    before = sink.count
    bare = subprocess.run(
        [sys.executable, "-c", BARE_LOOP, str(messages), str(port)],
        capture_output=True,
        check=True,
    )
    span = sink.span_since(before, n)
    return float(bare.stdout.decode().strip().splitlines()[-1]), span


def _sqlite_ratio(n: int, rounds: int, work: Path) -> dict[str, Any]:
    url = f"sqlite:///{work / 'digest.sqlite3'}"
    _populate(url, n)
    messages = _received_copies(url, work, "messages", n)

    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    config = _config(work / "smtp.toml", url, port, work / "var")
    steal_before = _cpu_ticks()
    try:
        bare_times, ours_times = [], []
        # Alternate, and keep the best of each: on a shared machine the other tenants
        # only ever slow a round down, so the fastest round is the closest to the code's
        # own cost, and alternating gives both the same minutes to be lucky in.
        for _round in range(rounds):
            bare_times.append(_bare_loop(messages, port, sink, n)[0])
            _reset(url)
            ours_times.append(_timed_send(config, sink, n))
    finally:
        controller.stop()
    stolen = _stolen_share(steal_before, _cpu_ticks())  # over the rounds alone
    ours_loops = [loop for loop, _ in ours_times]
    bare_rate = n / min(bare_times)
    ours_rate = n / min(ours_loops)
    return {
        "digest_send_with_process_start_msgs_per_s": round(
            n / min(whole for _, whole in ours_times), 1
        ),
        "messages": n,
        "message_bytes": _first_size(messages),
        "dkim_signed": _is_signed(messages),
        "bare_smtplib_msgs_per_s": round(bare_rate, 1),
        "digest_send_msgs_per_s": round(ours_rate, 1),
        "ratio": round(ours_rate / bare_rate, 3),
        # The spread, so a noisy run shows as one.
        "rounds": [
            {"bare_msgs_per_s": round(n / bare, 1), "digest_send_msgs_per_s": round(n / ours, 1)}
            for bare, ours in zip(bare_times, ours_loops, strict=True)
        ],
        "ratio_of_medians": round(statistics.median(bare_times) / statistics.median(ours_loops), 3),
        "cpu_stolen_share": stolen,
        "per_message_ms": _where_time_goes(config, min(bare_times) / n, 1 / ours_rate),
    }


def _cpu_ticks() -> tuple[int, int]:
    """(all CPU time, time stolen by the hypervisor for other guests), in ticks, from
    Linux's /proc/stat; zeros elsewhere."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def _stolen_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[0] - before[0]
    return round((after[1] - before[1]) / total, 3) if total > 0 else 0.0


def _first_size(path: Path) -> int:
    box = mailbox.Maildir(str(path), factory=None, create=False)
    return len(box.get_bytes(sorted(box.keys())[0]))


def _is_signed(path: Path) -> bool:
    box = mailbox.Maildir(str(path), factory=None, create=False)
    raw = box.get_bytes(sorted(box.keys())[0])
    return b"\nDKIM-Signature: v=1; a=rsa-sha256;" in raw and b"bounces+" in raw


def _where_time_goes(config_path: Path, smtp_s: float, total_s: float) -> dict[str, float]:
    """Compose (build and serialise) and sign a sample of the outbox in this process; the
    SMTP share is the bare loop's time per message; the rest (claim, send-time checks,
    recording, pipelining overlap) is what remains of `digest send`'s time per message."""
    sys.path.insert(0, str(ROOT))
    from digest.config import load_config
    from digest.mail.wire import serialise
    from digest.models import OutboxMessage
    from digest.runtime import Runtime
    from tests.support.clock import DEFAULT_NOW as now

    rt = Runtime.from_config(load_config(config_path))
    compose = sign = 0.0
    with rt.sessions() as session:
        rows = session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id).limit(300))
        sample = list(rows)
        for row in sample:
            started = time.perf_counter()
            composed = rt.composer.compose(session, row, now)
            if composed.prebuilt is not None:
                raw = composed.prebuilt
            else:
                assert composed.message is not None
                raw = serialise(composed.message)
            built = time.perf_counter()
            assert composed.signer is not None
            composed.signer.sign(raw, bh=composed.body_hash, head=composed.signed_head)
            compose += built - started
            sign += time.perf_counter() - built
        dkimpy = _dkimpy_sign_seconds(
            rt.composer.compose(session, sample[0], now).as_bytes(),
            (config_path.parent / "dkim.pem").read_bytes(),
        )
    rt.engine.dispose()
    count = len(sample)
    compose_ms, sign_ms, smtp_ms = 1000 * compose / count, 1000 * sign / count, 1000 * smtp_s
    return {
        "compose": round(compose_ms, 3),
        "dkim_sign": round(sign_ms, 3),
        # The candidate we replaced, on the same message: dkimpy's own dkim.sign().
        "dkim_sign_with_dkimpy": round(1000 * dkimpy, 3),
        "smtp": round(smtp_ms, 3),
        "rest": round(1000 * total_s - compose_ms - sign_ms - smtp_ms, 3),
        "total": round(1000 * total_s, 3),
    }


def _dkimpy_sign_seconds(raw: bytes, pem: bytes, rounds: int = 30) -> float:
    import dkim

    from digest.mail.dkim import header_list

    started = time.perf_counter()
    for _ in range(rounds):
        dkim.sign(
            raw,
            b"s2026a",
            b"councildigest.example.org",
            pem,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=header_list(raw),
            linesep=b"\r\n",
        )
    return (time.perf_counter() - started) / rounds


def _postgres_workers(n: int, work: Path) -> dict[str, Any]:
    try:
        with throwaway_database() as url:
            return _postgres_workers_in(url, n, work)
    except NoPostgres as exc:
        return {"skipped": str(exc)}


def _postgres_workers_in(url: str, n: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {"messages": n}
    _populate(url, n)
    messages = _received_copies(url, work, "pg-messages", n)
    sink = CountingSink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    config = _config(work / "pg.toml", url, port, work / "var")
    engine = sa.create_engine(url)
    try:
        for count in (1, 2, 4):
            _, bare_span = _bare_loop(messages, port, sink, n)
            time.sleep(5.5)  # the sink starts a new span after a pause
            _reset(url)
            before = sink.count
            workers = [
                _digest_cli(config, "worker", "--idle-seconds", "0.05") for _ in range(count)
            ]
            span = sink.span_since(before, n)
            for worker in workers:
                worker.send_signal(signal.SIGTERM)
            for worker in workers:
                worker.communicate(timeout=60)
            with engine.connect() as conn:
                sent = conn.exec_driver_sql(
                    "SELECT count(*) FROM outbox_messages WHERE status = 'sent'"
                ).scalar()
            assert sent == n, sent
            results[f"workers_{count}"] = {
                "msgs_per_s": round(n / span, 1),
                "bare_smtplib_msgs_per_s": round(n / bare_span, 1),
                "ratio": round(bare_span / span, 3),
            }
            time.sleep(5.5)
    finally:
        controller.stop()
        engine.dispose()
    return results


def run(quick: bool) -> dict[str, Any]:
    n = 500 if quick else 5_000
    with tempfile.TemporaryDirectory(prefix="digest-bench-") as tmp:
        work = Path(tmp)
        _dkim_key(work)
        sqlite = _sqlite_ratio(n, 3 if quick else 5, work)
        postgres = _postgres_workers(n, work)
    return {
        **sqlite,
        "required_ratio": REQUIRED_RATIO,
        "postgres": postgres,
        "pass": sqlite["ratio"] >= REQUIRED_RATIO and sqlite["dkim_signed"],
    }
