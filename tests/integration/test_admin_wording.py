"""Issue 19, admin wording: the dashboard reads the real last digest build, a collection
in which a council failed says failed, and counts agree with their nouns."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from flask.testing import FlaskClient

from digest.cli import main
from digest.clock import utcnow
from digest.runtime import Runtime
from jobs import tasks
from tests.integration.collecting import council, point_at_fake, write_config
from tests.integration.helpers import active_subscription, make_admin
from tests.integration.test_admin_console import login
from tests.support.clock import Clock
from tests.support.moderngov import FakeModernGov, FakeSite, Reply, manchester_like, on
from tests.support.web import text


def test_dashboard_after_a_build_and_a_partly_failed_collection(
    tmp_path: Path,
    rt: Runtime,
    clock: Clock,
    client: FlaskClient,
    fake_moderngov: FakeModernGov,
) -> None:
    clock.set(utcnow())  # `digest build` runs on the real clock
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    broken = fake_moderngov.add_site("localhost", FakeSite(meetings=[]))
    broken.override = on("GetMeetings", Reply(b"", 503, "text/plain"))
    point_at_fake(rt, "wigan", fake_moderngov, "127.0.0.1")
    point_at_fake(rt, "bolton", fake_moderngov, "localhost")

    summary = tasks.collect(rt)
    assert "1 failed" in summary and council(rt, "bolton").consecutive_failures == 1

    built = CliRunner().invoke(main, ["--config", str(write_config(tmp_path, rt)), "build"])
    assert built.exit_code == 0, built.output

    make_admin(rt)
    login(client)
    page = text(client.get("/admin/"))
    print(page)
    assert "never" not in page
    assert "Last digest build" in page and "2 digests for" in page
    collection = page.split("Last collection", 1)[1].split("Outbox", 1)[0]
    assert "FAILED" in collection and "ok" not in collection.split(":", 1)[0]

    listing = client.get("/admin/councils").get_data(as_text=True)
    assert "1 failure<" in listing and "1 failures" not in listing


def test_enabling_from_the_command_line_counts_one_subscriber_as_one(
    tmp_path: Path, rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    active_subscription(rt, "r@example.net", "wigan")
    enabled = CliRunner().invoke(
        main,
        [
            "--config",
            str(write_config(tmp_path, rt)),
            "councils",
            "enable",
            "wigan",
            "--base-url",
            fake_moderngov.url(),
            "--no-collect",
        ],
    )
    assert enabled.exit_code == 0, enabled.output
    assert "1 waiting subscriber will be told" in enabled.output
    assert "0 professional requests approved" in enabled.output
