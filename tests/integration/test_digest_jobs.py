"""The weekly job on the schedule, and the "your council is live" email template."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import pytest
import sqlalchemy as sa

from digest import councils, heartbeats
from digest.mail.render import render_email
from digest.models import Council, Digest
from digest.runtime import Runtime
from digest.tokens import Purpose
from jobs import tasks
from jobs.schedule import build_scheduler, job_table
from tests.integration.helpers import active_subscription, deliver
from tests.support.clock import Clock
from tests.support.mail import body, subject, unsubscribe_tokens
from tests.support.meetings import BUILD_AT, arrange_busy_week, enable
from tests.support.smtp import SmtpSink

LONDON = ZoneInfo("Europe/London")


def test_weekly_digest_runs_on_monday_mornings_in_london(rt: Runtime) -> None:
    spec = {s.id: s for s in job_table(rt)}["weekly_digest"]
    fire = spec.trigger.get_next_fire_time(None, datetime(2026, 11, 18, 10, tzinfo=LONDON))
    assert fire == datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)
    # British Summer Time: still 07:00 on the clock in London.
    summer = spec.trigger.get_next_fire_time(None, datetime(2026, 6, 24, 10, tzinfo=LONDON))
    assert summer == datetime(2026, 6, 29, 7, 0, tzinfo=LONDON)
    assert "weekly_digest" in {job.id for job in build_scheduler(rt, blocking=False).get_jobs()}


def test_the_job_builds_this_weeks_digests_and_records_its_run(rt: Runtime, clock: Clock) -> None:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now)
        council.last_success_at = BUILD_AT - timedelta(hours=1)
        arrange_busy_week(session, council)
    active_subscription(rt, "reader@example.net", "manchester")
    clock.set(BUILD_AT)
    summary = tasks.weekly_digest(rt)
    assert summary == "2026-W48: 1 councils, 1 digests built (0 quiet), 1 emails queued"
    assert tasks.weekly_digest(rt).endswith("0 digests built (0 quiet), 0 emails queued")
    with rt.read_sessions() as session:
        run = heartbeats.last_run(session, "weekly_digest")
        assert run is not None and run.ok and run.summary.startswith("2026-W48")
        assert session.scalars(sa.select(Digest.week)).all() == ["2026-W48"]


def test_council_live_email(smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock) -> None:
    """Enabling a council tells its waiting subscribers once, each with their own links."""
    from digest import councils, enablement

    rt = smtp_rt
    subscription_id = active_subscription(rt, "waiting@example.net", "wigan")
    other_id = active_subscription(rt, "also-waiting@example.net", "wigan")
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        assert enablement.go_live(session, rt.mail, council, clock.now).notified == 2
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        assert not enablement.go_live(session, rt.mail, council, clock.now).changed
    backend = rt.mail_backend()
    rt.deliverer(backend).run_until_empty()
    backend.close()
    for address, expected_id in (
        ("waiting@example.net", subscription_id),
        ("also-waiting@example.net", other_id),
    ):
        [live] = [
            r.message
            for r in smtp_sink.to(address)
            if str(r.message["Subject"]).strip().startswith("Wigan is live")
        ]
        assert str(live["Subject"]).strip() == (
            "Wigan is live: your weekly council digest starts Monday 23 November"
        )
        unsubscribe = live["List-Unsubscribe"].strip("<>")
        token = unsubscribe.removeprefix(f"{rt.config.site.base_url}/unsubscribe/")
        assert rt.tokens.read(Purpose.UNSUBSCRIBE, token)[0] == expected_id
        for part in (body(live), body(live, "html")):
            assert "Wigan Metropolitan Borough Council is live on Council Digest" in part
            assert "placeholder" not in part
            tokens = unsubscribe_tokens(part)
            assert tokens and {rt.tokens.read(Purpose.UNSUBSCRIBE, t)[0] for t in tokens} == {
                expected_id
            }
            assert rt.links.council("wigan") in part
            assert "Your first digest arrives on" in part


def test_someone_who_confirmed_moments_before_go_live_gets_one_email_not_two(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock
) -> None:
    """Their welcome, still in the outbox, would be composed at send time and say the
    council is live, next to the "is live" email: it is withdrawn. Someone whose
    waitlist welcome went out earlier gets the "is live" email it promised."""
    from digest import enablement
    from digest.models import OutboxMessage, OutboxStatus

    rt = smtp_rt
    active_subscription(rt, "early@example.net", "wigan")
    deliver(rt)  # the early subscriber's waitlist welcome goes out
    clock.advance(days=3)
    active_subscription(rt, "just-now@example.net", "wigan")  # its welcome not yet sent
    clock.advance(seconds=40)
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        assert enablement.go_live(session, rt.mail, council, clock.now).notified == 2
    deliver(rt)

    def subjects(address: str) -> list[str]:
        return [
            subject(r.message)
            for r in smtp_sink.to(address)
            if not subject(r.message).startswith("Confirm")
        ]

    assert subjects("early@example.net") == [
        "You're on the waitlist for Wigan Metropolitan Borough Council",
        "Wigan is live: your weekly council digest starts Monday 23 November",
    ]
    assert subjects("just-now@example.net") == [
        "Wigan is live: your weekly council digest starts Monday 23 November"
    ]
    with rt.read_sessions() as session:
        withdrawn = session.scalars(
            sa.select(OutboxMessage).where(
                OutboxMessage.purpose == "welcome",
                OutboxMessage.recipient == "just-now@example.net",
            )
        ).one()
    assert withdrawn.status == OutboxStatus.SUPPRESSED
    assert withdrawn.last_error is not None and "went live" in withdrawn.last_error


def test_council_live_template_is_self_contained(rt: Runtime) -> None:
    with rt.read_sessions() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        rendered = render_email(
            "council_live",
            site_name="Council Digest",
            base_url=rt.config.site.base_url,
            contact_email="hello@example.org",
            council=council,
            council_url=rt.links.council("wigan"),
            manage_url="https://example.org/manage/x",
            unsubscribe_url="https://example.org/unsubscribe/x",
            next_digest=None,
        )
    assert rendered.subject == "Wigan is live: your weekly council digest starts soon"
    tree = lxml.html.document_fromstring(rendered.html)
    assert tree.xpath("//img | //script | //link | //style") == []
    assert "https://example.org/unsubscribe/x" in [a.get("href") for a in tree.xpath("//a")]


def test_one_council_failing_does_not_stop_the_others(
    rt: Runtime, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.weekly import run
    from digest.weekly.build import BuildSettings, councils_to_build
    from digest.weekly.weeks import IsoWeek

    with rt.sessions.begin() as session:
        for slug in ("leeds", "manchester", "wigan"):
            enable(session, slug, clock.now)
    real = run.build_council_digest

    def broken_for_leeds(session: Any, council: Any, *args: Any) -> Any:
        result = real(session, council, *args)
        if council.slug == "leeds":
            raise RuntimeError("bad data from Leeds")
        return result

    monkeypatch.setattr(run, "build_council_digest", broken_for_leeds)
    with rt.read_sessions() as session:
        ids = [c.id for c in councils_to_build(session)]
    report = run.BuildReport(week="2026-W48")
    steps = run.build_each(
        rt.sessions,
        ids,
        IsoWeek.parse("2026-W48"),
        BUILD_AT,
        BuildSettings.from_config(rt.config),
        rt.links,
        report,
    )
    assert list(steps) == ids
    assert report.failed == ["leeds"] and report.councils == 2
    with rt.read_sessions() as session:
        built = session.scalars(
            sa.select(Council.slug).join(Digest, Digest.council_id == Council.id)
        ).all()
    assert sorted(built) == ["manchester", "wigan"]
