"""The schedule table: which job runs when. Triggers come from [schedule] in the config
and always use the site's time zone (APScheduler 3 would otherwise use the machine's)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from digest.config import cron_trigger
from digest.runtime import Runtime
from jobs import tasks

HEARTBEAT_SECONDS = 30
NEW_COUNCIL_SECONDS = 120


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[Runtime], str]
    trigger: Any
    description: str


def job_table(rt: Runtime) -> list[JobSpec]:
    schedule = rt.config.schedule
    tz = rt.config.tz
    return [
        JobSpec(
            "deliver_outbox",
            tasks.deliver_outbox,
            IntervalTrigger(seconds=schedule.deliver_every_seconds, timezone=tz),
            "Send what is due in the outbox",
        ),
        JobSpec(
            "purge_unconfirmed",
            tasks.purge_unconfirmed,
            cron_trigger(schedule.purge, tz),
            "Forget sign-ups never confirmed within a week",
        ),
        JobSpec(
            "weekly_digest",
            tasks.weekly_digest,
            cron_trigger(schedule.weekly_digest, tz),
            "Build and queue the weekly digests",
        ),
        JobSpec(
            "heartbeat",
            tasks.beat,
            IntervalTrigger(seconds=HEARTBEAT_SECONDS, timezone=tz),
            "Tell /healthz the scheduler is alive",
        ),
        JobSpec(
            "collect",
            tasks.collect,
            cron_trigger(schedule.collect, tz),
            "Collect meetings from every enabled council",
        ),
        JobSpec(
            "collect_new",
            tasks.collect_new,
            IntervalTrigger(seconds=NEW_COUNCIL_SECONDS, timezone=tz),
            "Collect councils enabled since the last run that have no data yet",
        ),
        JobSpec(
            "councillors",
            tasks.collect_councillors,
            cron_trigger(schedule.councillors, tz),
            "Collect the councillors of every enabled ModernGov council",
        ),
        JobSpec(
            "demand",
            tasks.demand_daily,
            cron_trigger(schedule.demand, tz),
            "Auto-enable councils demand has made ready",
        ),
    ]


def build_scheduler(
    rt: Runtime, *, blocking: bool, include: Callable[[JobSpec], bool] = lambda spec: True
) -> BaseScheduler:
    """A scheduler with every job of the table; `include` can leave some out."""
    kind = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = kind(
        timezone=rt.config.tz,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    for spec in job_table(rt):
        if include(spec):
            # The heartbeat fires at once, so /healthz is green as soon as we start.
            first = {"next_run_time": rt.now()} if spec.id == "heartbeat" else {}
            scheduler.add_job(
                spec.func,
                spec.trigger,
                args=[rt],
                id=spec.id,
                name=spec.description,
                replace_existing=True,
                **first,
            )
    return scheduler
