"""The schedule table: ids, triggers in the site's zone, and a job run being recorded."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from digest import heartbeats
from digest.runtime import Runtime
from jobs import tasks
from jobs.schedule import build_scheduler, job_table


def test_jobs_and_triggers(rt: Runtime) -> None:
    specs = {spec.id: spec for spec in job_table(rt)}
    assert {"deliver_outbox", "purge_unconfirmed", "heartbeat"} <= set(specs)
    london = ZoneInfo("Europe/London")
    after = datetime(2026, 11, 18, 10, 0, tzinfo=london)
    assert specs["purge_unconfirmed"].trigger.get_next_fire_time(None, after) == datetime(
        2026, 11, 19, 3, 15, tzinfo=london
    )
    scheduler = build_scheduler(rt, blocking=False)
    assert {job.id for job in scheduler.get_jobs()} == set(specs)


def test_job_runs_are_recorded(rt: Runtime) -> None:
    assert "purged" in tasks.purge_unconfirmed(rt)
    tasks.beat(rt)
    with rt.read_sessions() as session:
        run = heartbeats.last_run(session, "purge_unconfirmed")
        assert run is not None and run.ok and run.finished_at is not None
        assert heartbeats.last_beat(session, tasks.SCHEDULER_HEARTBEAT) == rt.now()


def test_a_failing_job_is_recorded_not_raised(rt: Runtime) -> None:
    def broken() -> str:
        raise RuntimeError("council site on fire")

    assert tasks.recorded("broken", rt, broken).startswith("failed")
    with rt.read_sessions() as session:
        run = heartbeats.last_run(session, "broken")
    assert run is not None and run.ok is False and "on fire" in run.summary
