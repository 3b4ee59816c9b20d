"""The collector as people use it: the `digest` commands, the scheduled job, the council
page and the JSON API."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from digest.cli import main
from digest.clock import utcnow
from digest.models import CouncilStatus
from digest.runtime import Runtime
from jobs import tasks
from jobs.schedule import job_table
from tests.integration.collecting import collect, council, point_at_fake, write_config
from tests.support.clock import Clock
from tests.support.moderngov import FakeModernGov, FakeSite, Reply, fixture, manchester_like, on
from tests.support.web import text


def test_enable_then_collect_shows_meetings_on_the_page_and_in_the_api(
    tmp_path: Path,
    rt: Runtime,
    clock: Clock,
    client: FlaskClient,
    fake_moderngov: FakeModernGov,
) -> None:
    """The issue's "done when": enable wigan against a fake serving real-shaped data,
    collect it, and see the meetings on the council page and in the API."""
    clock.set(utcnow())  # the commands run on the real clock
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    config = write_config(tmp_path, rt)
    runner = CliRunner()

    enabled = runner.invoke(
        main,
        [
            "--config",
            str(config),
            "councils",
            "enable",
            "wigan",
            "--base-url",
            fake_moderngov.url(),
        ],
    )
    assert enabled.exit_code == 0, enabled.output
    assert "Wigan Metropolitan Borough Council enabled" in enabled.output
    # Enabling collects at once; collecting again finds nothing new.
    assert "1 of 1 councils collected; 3 new and 0 changed meetings (wigan: 3 new, 0 changed)" in (
        enabled.output
    )

    collected = runner.invoke(main, ["--config", str(config), "collect", "wigan"])
    assert collected.exit_code == 0, collected.output
    assert "1 of 1 councils collected; 0 new and 0 changed meetings" in collected.output

    page = text(client.get("/councils/wigan"))
    assert "Audit Committee" in page and "Council (Budget Council)" in page
    assert "Cancelled" in page
    assert "Council Chamber - Town Hall, Library Street, Wigan WN1 1YN" in page

    api = client.get("/api/v1/councils/wigan/meetings").get_json()
    assert api["council"] == "wigan" and api["stale"] is False
    (held,) = api["recent"]
    assert held["status"] == "held" and held["committee"] == "Audit Committee"
    assert held["source_url"] == f"{fake_moderngov.url()}/ieListDocuments.aspx?CId=144&MId=4967"
    assert [i["number"] for i in held["agenda_items"]] == ["1.", "9."]
    assert held["agenda_items"][1]["minutes_text"].startswith("The Committee considered")
    assert held["documents"][0]["url"].endswith("/mgConvert2PDF.aspx?ID=60860")
    assert held["attendees"][0]["name"] == "Councillor Basil Curley"
    cancelled, budget = api["upcoming"]
    assert cancelled["status"] == "cancelled" and cancelled["agenda_items"] == []
    assert budget["title"] == "Council (Budget Council)" and budget["status"] == "scheduled"
    assert "T18:00:00" in budget["start"] and budget["venue"].startswith("Council")

    summary = client.get("/api/v1/councils/wigan").get_json()
    assert summary["health"]["last_success_at"] is not None
    assert summary["meetings_url"].endswith("/api/v1/councils/wigan/meetings")


def test_collect_reports_failures_and_exits_non_zero(
    tmp_path: Path, rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    fake_moderngov.add_site(
        "127.0.0.1",
        FakeSite(
            override=on(
                "GetMeetings",
                Reply(
                    fixture("error_leeds_sharepoint_error_page_2016.html"), content_type="text/html"
                ),
            )
        ),
    )
    config = write_config(tmp_path, rt)
    runner = CliRunner()
    runner.invoke(
        main,
        [
            "--config",
            str(config),
            "councils",
            "enable",
            "wigan",
            "--base-url",
            fake_moderngov.url(),
        ],
    )
    result = runner.invoke(main, ["--config", str(config), "collect"])
    assert result.exit_code == 1
    assert "0 of 1 councils collected" in result.output and "1 failed: wigan" in result.output
    assert 'wigan: GetMeetings: the site answered with an HTML page ("Error")' in result.output

    unknown = runner.invoke(main, ["--config", str(config), "collect", "atlantis"])
    assert unknown.exit_code == 2 and "no such council: atlantis" in unknown.output


def test_probe_says_whether_the_site_speaks_moderngov(
    tmp_path: Path, rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    site = fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(utcnow().date())))
    config = write_config(tmp_path, rt)
    runner = CliRunner()
    runner.invoke(
        main,
        [
            "--config",
            str(config),
            "councils",
            "enable",
            "wigan",
            "--base-url",
            fake_moderngov.url(),
        ],
    )

    good = runner.invoke(main, ["--config", str(config), "councils", "probe", "wigan"])
    assert good.exit_code == 0, good.output
    assert "answers with ModernGov XML: 3 meetings between" in good.output
    wigan = council(rt, "wigan")
    assert wigan.last_probe_ok is True and wigan.last_probe_at is not None
    assert wigan.status == CouncilStatus.ENABLED  # a probe changes nothing else

    site.override = on(
        "GetMeetings",
        Reply(
            fixture("error_denbighshire_http_redirect_script_2016.html"), content_type="text/html"
        ),
    )
    bad = runner.invoke(main, ["--config", str(config), "councils", "probe", "wigan"])
    assert bad.exit_code == 1
    assert "not usable: GetMeetings: the site answered with an HTML page" in bad.output
    wigan = council(rt, "wigan")
    assert wigan.last_probe_ok is False and "HTML page" in (wigan.last_probe_message or "")
    assert wigan.last_error is None  # probing is not collecting


def test_enable_pause_and_committee_filter_from_the_command_line(
    tmp_path: Path, rt: Runtime
) -> None:
    config = write_config(tmp_path, rt)
    runner = CliRunner()
    bad = runner.invoke(
        main, ["--config", str(config), "councils", "enable", "adur", "--committee-filter", "(x"]
    )
    assert bad.exit_code == 1 and "not a valid regular expression" in bad.output
    assert council(rt, "adur").status == CouncilStatus.WAITLIST

    good = runner.invoke(
        main, ["--config", str(config), "councils", "enable", "adur", "--committee-filter", "^Adur"]
    )
    assert good.exit_code == 0, good.output
    assert council(rt, "adur").committee_filter == "^Adur"

    paused = runner.invoke(main, ["--config", str(config), "councils", "pause", "adur"])
    assert paused.exit_code == 0 and "Adur District Council paused" in paused.output
    assert council(rt, "adur").status == CouncilStatus.PAUSED
    again = runner.invoke(main, ["--config", str(config), "councils", "pause", "adur"])
    assert again.exit_code == 1 and "not enabled" in again.output

    nowhere = runner.invoke(main, ["--config", str(config), "councils", "enable", "nowhere"])
    assert nowhere.exit_code == 2


def test_the_scheduled_job_collects_enabled_councils_only(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    assert "collect" in {spec.id for spec in job_table(rt)}
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(rt.now().date())))
    point_at_fake(rt, "wigan", fake_moderngov, "127.0.0.1")
    point_at_fake(rt, "bolton", fake_moderngov, "127.0.0.1")
    from digest import councils, enablement

    with rt.sessions.begin() as session:
        bolton = councils.get_by_slug(session, "bolton")
        assert bolton is not None
        enablement.pause(session, bolton, rt.now())

    summary = tasks.collect(rt)

    assert summary.startswith("1 of 1 councils collected; 3 new")
    assert council(rt, "wigan").last_success_at == rt.now()
    assert council(rt, "bolton").last_attempt_at is None
    from digest import heartbeats

    with rt.read_sessions() as session:
        run = heartbeats.last_run(session, "collect")
    assert run is not None and run.ok and run.summary == summary


def test_a_council_is_stale_after_48_hours_without_success(
    rt: Runtime, clock: Clock, client: FlaskClient, fake_moderngov: FakeModernGov
) -> None:
    site = fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(rt.now().date())))
    point_at_fake(rt, "wigan", fake_moderngov, "127.0.0.1")
    collect(rt, "wigan")
    site.override = on("GetMeetings", Reply(b"", 503, "text/plain"))
    clock.advance(hours=47)
    collect(rt, "wigan")
    assert not council(rt, "wigan").is_stale(rt.now())
    clock.advance(hours=2)
    collect(rt, "wigan")
    assert council(rt, "wigan").is_stale(rt.now())
    assert "may be out of date" in text(client.get("/councils/wigan"))
    assert client.get("/api/v1/councils/wigan/meetings").get_json()["stale"] is True
    assert council(rt, "wigan").consecutive_failures == 2
