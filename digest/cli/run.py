"""Long-running commands (`start`, `scheduler`, `worker`) and `send`."""

from __future__ import annotations

import contextlib
import logging
import queue
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from types import FrameType

import click

from digest import heartbeats, logs, schema
from digest.cli import CliState, pass_state
from digest.cli.output import progress, summary
from digest.documents import extract as extraction
from digest.mail import claims, outbox
from digest.mail.report import DeliveryReport
from digest.mail.worker import work_until_stopped
from digest.models import OutboxStatus
from digest.runtime import Runtime

log = logging.getLogger("digest")


def _logging(rt: Runtime) -> None:
    logs.configure(rt.config.site.log_format, rt.config.site.log_level)


def _require_schema(rt: Runtime) -> None:
    if not schema.is_current(rt.engine):
        click.echo(
            "digest: the database is missing or out of date; run `digest init` first.", err=True
        )
        sys.exit(1)


class Stop:
    """Set by a signal handler, waited on by the loops: a threading.Event, minus its lock.

    Python runs a signal handler in the main thread at whatever point that thread is on,
    inside `Event.wait` too, where it may hold the Event's lock: `Event.set` in the
    handler then waits for that lock forever (a worker in CI logged SIGTERM and never
    stopped). A signal landing on another thread makes it likelier, since the main
    thread then runs the handler late, wherever it has got to. `SimpleQueue.put` is made
    to be called from signal handlers (it takes no lock that its caller may hold)."""

    def __init__(self) -> None:
        self._set = False
        self._wake: queue.SimpleQueue[None] = queue.SimpleQueue()

    def set(self) -> None:
        self._set = True
        self._wake.put(None)

    def is_set(self) -> bool:
        return self._set

    def wait(self, timeout: float | None = None) -> bool:
        if not self._set:
            with contextlib.suppress(queue.Empty):
                self._wake.get(timeout=timeout)
                self._wake.put(None)  # for any other thread waiting
        return self._set


def _stop_on_signals(stop: Stop) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, finishing current work", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.command()
@pass_state
def start(state: CliState) -> None:
    """Run the web app, the scheduler and delivery in one process (the embedded default)."""
    rt = state.runtime()
    _logging(rt)
    _require_schema(rt)
    serve(rt)


def serve(rt: Runtime, *, banner: str = "") -> None:
    """Web, scheduler and delivery in this process until SIGTERM or Ctrl+C."""
    from werkzeug.serving import make_server

    from digest import create_app
    from jobs.schedule import build_scheduler

    app = create_app(runtime=rt)
    scheduler = build_scheduler(rt, blocking=False)
    server = make_server(rt.config.web.host, rt.config.web.port, app, threaded=True)
    stop = Stop()
    _stop_on_signals(stop)

    def shut_down_on_signal() -> None:
        stop.wait()
        server.shutdown()

    threading.Thread(target=shut_down_on_signal, daemon=True).start()
    scheduler.start()
    where = (
        f"mail goes to {rt.config.mail.maildir_path}/"
        if rt.config.mail.backend == "maildir"
        else f"mail goes to {rt.config.mail.smtp_host}:{rt.config.mail.smtp_port}"
    )
    click.echo(
        f"{rt.config.site.name} is running at http://{rt.config.web.host}:{rt.config.web.port} "
        f"(web, scheduler and delivery in one process; {where}). Press Ctrl+C to stop."
        + (f"\n{banner}" if banner else "")
    )
    try:
        server.serve_forever()
    finally:
        scheduler.shutdown(wait=True)
        rt.dispose()


@click.command()
@pass_state
def scheduler(state: CliState) -> None:
    """Run the scheduler alone (exactly one per installation)."""
    from jobs.schedule import build_scheduler

    rt = state.runtime()
    _logging(rt)
    _require_schema(rt)
    sched = build_scheduler(rt, blocking=True)
    signal.signal(signal.SIGTERM, lambda *_: sched.shutdown(wait=False))
    click.echo("Scheduler running; jobs: " + ", ".join(job.id for job in sched.get_jobs()))
    with contextlib.suppress(KeyboardInterrupt):
        sched.start()


@click.command()
@click.option(
    "--idle-seconds",
    type=float,
    default=None,
    help="Pause when nothing is due (default: [schedule] deliver_every_seconds).",
)
@pass_state
def worker(state: CliState, idle_seconds: float | None) -> None:
    """Run the delivery loop until SIGTERM; the message in hand is finished first."""
    rt = state.runtime()
    _logging(rt)
    _require_schema(rt)
    stop = Stop()
    _stop_on_signals(stop)
    idle = (
        idle_seconds
        if idle_seconds is not None
        else float(rt.config.schedule.deliver_every_seconds)
    )
    backend = rt.mail_backend()
    deliverer = rt.deliverer(backend)
    deliverer.should_stop = stop.is_set
    # Workers also read queued PDF minutes, one document per round, so mail is never
    # held up for long by a big file.
    reader = extraction.pdf_fetcher(rt.config.collector)

    def read_one() -> bool:
        extracted = extraction.run(rt.sessions, reader, rt.now, limit=1)
        if extracted.outcomes:
            log.info("documents: %s", extracted.summary())
        return bool(extracted.outcomes)

    click.echo(f"Delivery worker {deliverer.worker} started.")

    def beat() -> None:
        with rt.sessions.begin() as session:
            heartbeats.beat(session, f"worker:{deliverer.worker}", rt.now())

    try:
        total = work_until_stopped(
            deliverer, stopped=stop.is_set, wait=stop.wait, idle=idle, beat=beat, also=read_one
        )
    finally:
        backend.close()
    summary(f"Worker stopped: {total.summary()}.")


def _moment(rt: Runtime, text: str) -> datetime:
    """An ISO 8601 date or time; without a zone, in the site's time zone."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. 2026-11-30T09:00 or 2026-11-30)",
            param_hint="--requeue-failed-since",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=rt.config.tz)
    return moment.astimezone(UTC)


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages.")
@click.option(
    "--requeue-failed-since",
    "requeue_since",
    metavar="TIME",
    default=None,
    help="First give messages that failed since TIME (ISO 8601, site time zone unless "
    "given) a fresh set of attempts; their reasons are listed.",
)
@pass_state
def send(state: CliState, limit: int | None, requeue_since: str | None) -> None:
    """Deliver what is due now, then exit."""
    rt = state.runtime()
    _require_schema(rt)
    if requeue_since is not None:
        since = _moment(rt, requeue_since)
        with rt.sessions.begin() as session:
            reasons = outbox.failed_since(session, since)
            requeued = outbox.requeue_failed(session, since=since, now=rt.now())
        click.echo(f"Requeued {requeued} messages that failed since {since.isoformat()}:")
        for reason, count in reasons:
            click.echo(f"  {count} x {reason}")
    with rt.read_sessions() as session:
        # What workers may claim now: not what another worker is sending.
        due, _ = claims.count_due(session, rt.now())
    todo = min(due, limit) if limit else due
    backend = rt.mail_backend()
    deliverer = rt.deliverer(backend)
    total = DeliveryReport()
    started = time.monotonic()
    try:
        bar = progress(iter(int, 1), length=todo, label="Sending")
        while limit is None or total.handled < limit:
            report = deliverer.run_once(None if limit is None else limit - total.handled)
            if report.handled == 0:
                break
            total.add(report)
            for _ in range(report.handled):
                next(bar, None)
    finally:
        backend.close()
    with rt.read_sessions() as session:
        depth = outbox.depth_by_status(session)
    elapsed = time.monotonic() - started
    rate = f" ({total.sent / elapsed:.0f}/s)" if total.sent and elapsed > 0 else ""
    summary(
        f"{total.summary()} in {elapsed:.1f} s{rate}; {depth[OutboxStatus.PENDING]} still pending.",
        ok=total.failed == 0,
    )
    for error in total.errors[:20]:
        click.echo(f"  {error}", err=True)
    if total.failed:
        sys.exit(1)


def register(group: click.Group) -> None:
    for command in (start, scheduler, worker, send):
        group.add_command(command)
