"""Which councils we can collect, and an honest answer for the rest: the probe
recognising each system, coverage on the command line and in /metrics, and the
unsupported council's journey on the public site, in the admin console, in
`digest demand` and in auto-enable."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from digest import autoenable, councils
from digest.cli import main
from digest.clock import utcnow
from digest.collector.http_client import Fetcher
from digest.collector.planner import COLLECTABLE
from digest.collector.probe import probe, probe_site
from digest.models import Council, CouncilStatus, CouncilSystem
from digest.models.enums import COLLECTABLE_SYSTEMS
from digest.runtime import Runtime
from tests.conftest import make_config
from tests.integration.collecting import council, write_config
from tests.integration.helpers import active_subscription, make_admin
from tests.integration.test_admin_console import login
from tests.support.clock import Clock
from tests.support.cmis import CmisSite, birmingham_like
from tests.support.moderngov import (
    FakeModernGov,
    FakeSite,
    Reply,
    fixture,
    loopback_resolver,
    manchester_like,
)
from tests.support.web import post_form, text

UNSUPPORTED = "We can't collect this council's meetings automatically yet"


def test_the_collector_has_a_source_for_every_collectable_system() -> None:
    assert frozenset(COLLECTABLE) == COLLECTABLE_SYSTEMS


def test_coverage_reaches_338_of_382_councils(tmp_path: Path, rt: Runtime) -> None:
    config = write_config(tmp_path, rt)
    result = CliRunner().invoke(main, ["--config", str(config), "councils", "coverage", "--json"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    print("coverage:", found["total"])
    assert found["total"] == {"councils": 382, "collectable": 338, "enabled": 0, "fresh": 0}
    assert found["systems"]["moderngov"]["collectable"] == 306
    assert found["systems"]["cmis"]["collectable"] == 32
    assert found["systems"]["jadu"] == {"councils": 2, "collectable": 0, "enabled": 0, "fresh": 0}
    assert set(found["systems"]) == {"moderngov", "cmis", "jadu", "other", "unknown"}
    table = CliRunner().invoke(main, ["--config", str(config), "councils", "coverage"])
    assert "338 of 382 councils collectable; 44 not yet supported." in table.output
    with rt.read_sessions() as session:
        assert councils.get_by_slug(session, "pendle").system == CouncilSystem.JADU  # type: ignore[union-attr]


def test_probe_recognises_moderngov_cmis_or_neither_and_records_it(
    tmp_path: Path, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = clock.now.date()
    fake_moderngov.add_site("democracy.hartlepool.test", FakeSite(meetings=manchester_like(today)))
    fake_moderngov.add_site(
        "hartlepool.cmis.test",
        CmisSite(root=fake_moderngov.url("hartlepool.cmis.test"), cmis_meetings=[]),
    )
    fake_moderngov.add_site(
        "www.pendle.test",
        FakeSite(
            override=lambda request: Reply(
                fixture("error_leeds_sharepoint_error_page_2016.html"), content_type="text/html"
            )
        ),
    )
    fetcher = Fetcher(rt.config.collector, resolver=loopback_resolver)

    def probed(slug: str, base_url: str) -> tuple[bool, str, CouncilSystem, str]:
        with rt.sessions.begin() as session:
            found = councils.get_by_slug(session, slug)
            assert found is not None
            found.base_url = base_url
            result = probe(session, found, fetcher, clock.now, rt.config.tz)
            return result.ok, result.message, found.system, found.system_source

    # Hartlepool is "unknown" in the council list.
    ok, message, system, source = probed(
        "hartlepool", fake_moderngov.url("hartlepool.cmis.test") + "/birmingham"
    )
    assert ok and "a CMIS site: its meetings calendar is module 397" in message
    assert (system, source) == (CouncilSystem.CMIS, "probe")
    ok, message, system, _ = probed("hartlepool", fake_moderngov.url("democracy.hartlepool.test"))
    assert ok and message.startswith("answers with ModernGov XML: 3 meetings")
    assert system == CouncilSystem.MODERNGOV
    ok, message, system, source = probed("pendle", fake_moderngov.url("www.pendle.test"))
    assert not ok and "neither ModernGov nor CMIS answered" in message
    assert (system, source) == (CouncilSystem.JADU, "list")  # unchanged
    assert council(rt, "pendle").last_probe_ok is False

    # A probed system outranks the bundled list when it is imported again.
    config = write_config(tmp_path, rt)
    assert CliRunner().invoke(main, ["--config", str(config), "init"]).exit_code == 0
    assert council(rt, "hartlepool").system == CouncilSystem.MODERNGOV


def test_probe_command_names_the_system(
    tmp_path: Path, rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    fake_moderngov.add_site(
        "127.0.0.1",
        CmisSite(root=fake_moderngov.url(), cmis_meetings=birmingham_like(utcnow().date())),
    )
    with rt.sessions.begin() as session:
        found = councils.get_by_slug(session, "hartlepool")
        assert found is not None
        found.base_url = fake_moderngov.url() + "/birmingham"
    config = write_config(tmp_path, rt)
    result = CliRunner().invoke(main, ["--config", str(config), "councils", "probe", "hartlepool"])
    assert result.exit_code == 0, result.output
    assert "a CMIS site: its meetings calendar is module 397." in result.output
    assert "System: cmis (CMIS); collectable." in result.output
    assert council(rt, "hartlepool").system == CouncilSystem.CMIS


def test_an_unsupported_council_on_the_web_in_the_admin_and_in_demand(
    tmp_path: Path, rt: Runtime, client: FlaskClient
) -> None:
    page = text(client.get("/councils/pendle"))
    assert UNSUPPORTED in page
    assert "Subscribe" in page  # subscribing still counts as demand
    assert UNSUPPORTED not in text(client.get("/councils/wigan"))
    active_subscription(rt, "p@example.net", "pendle")
    active_subscription(rt, "w@example.net", "wigan")

    config = write_config(tmp_path, rt)
    demand = CliRunner().invoke(main, ["--config", str(config), "demand"])
    assert "pendle  [unsupported: we can't collect its meetings automatically yet]" in (
        demand.output
    )
    refused = CliRunner().invoke(main, ["--config", str(config), "councils", "enable", "pendle"])
    assert refused.exit_code == 1 and "we can't collect Pendle" in refused.output

    make_admin(rt)
    login(client)
    queue = text(client.get("/admin/queue"))
    pendle_row = queue[queue.index("Pendle Borough Council") :].split("</tr>")[0]
    assert "unsupported" in pendle_row and "Enable" not in pendle_row
    wigan_row = queue[queue.index("Wigan") :].split("</tr>")[0]
    assert "Enable" in wigan_row and "unsupported" not in wigan_row
    detail = text(client.get("/admin/councils/pendle"))
    assert "unsupported" in detail and ">Enable</button>" not in detail
    answer = post_form(
        client, "/admin/councils/pendle", "/admin/councils/pendle/enable", {"confirm": "yes"}
    )
    assert answer.status_code == 303
    assert "Not enabled: we can&#39;t collect" in text(client.get("/admin/councils/pendle"))
    assert council(rt, "pendle").status == CouncilStatus.WAITLIST

    # An admin who finds Pendle's meetings on a CMIS site says so; it can then be enabled.
    saved = post_form(
        client,
        "/admin/councils/pendle",
        "/admin/councils/pendle/base-url",
        {"base_url": "https://pendle.cmis.example/pendle/", "system": "cmis"},
    )
    assert saved.status_code == 303
    pendle = council(rt, "pendle")
    assert (pendle.system, pendle.system_source) == (CouncilSystem.CMIS, "admin")
    assert pendle.base_url == "https://pendle.cmis.example/pendle"
    queue = text(client.get("/admin/queue"))
    assert "unsupported" not in queue[queue.index("Pendle Borough Council") :].split("</tr>")[0]
    assert UNSUPPORTED not in text(client.get("/councils/pendle"))
    bad = post_form(
        client,
        "/admin/councils/pendle",
        "/admin/councils/pendle/base-url",
        {"base_url": "https://pendle.cmis.example/pendle/", "system": "sharepoint"},
    )
    assert bad.status_code == 303 and council(rt, "pendle").system == CouncilSystem.CMIS


def test_auto_enable_skips_councils_it_cannot_collect(
    tmp_path: Path, engine: Engine, clock: Clock
) -> None:
    rt = Runtime.from_config(
        make_config(tmp_path, engine, demand={"auto_enable_threshold": 1}), engine=engine
    )
    rt.clock = clock
    active_subscription(rt, "p@example.net", "pendle")
    probed: list[str] = []

    def prober(url: str):  # type: ignore[no-untyped-def]
        probed.append(url)
        return probe_site(Fetcher(rt.config.collector), url, clock.now.date())

    report = autoenable.run(rt.sessions, rt.mail, now=clock.now, probe_site=prober)
    assert report.enabled == [] and report.unsupported == ["pendle"] and probed == []
    assert "skipped, not collectable yet: pendle" in report.summary()
    assert council(rt, "pendle").status == CouncilStatus.WAITLIST


def test_metrics_count_councils_per_system_and_state(client: FlaskClient, rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council)
            .where(Council.slug == "birmingham")
            .values(status=CouncilStatus.ENABLED, enabled_at=rt.now(), last_success_at=rt.now())
        )
    families = text_string_to_metric_families(text(client.get("/metrics")))
    samples = {
        tuple(sorted(s.labels.items())): s.value
        for f in families
        if f.name == "digest_councils"
        for s in f.samples
    }
    assert samples[(("state", "collectable"), ("system", "cmis"))] == 32
    assert samples[(("state", "enabled"), ("system", "cmis"))] == 1
    assert samples[(("state", "fresh"), ("system", "cmis"))] == 1
    assert samples[(("state", "collectable"), ("system", "unknown"))] == 0
    assert samples[(("state", "councils"), ("system", "jadu"))] == 2
    assert samples[(("status", "waitlist"),)] == 381
