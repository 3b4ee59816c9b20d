"""`make demo` (digest demo): two councils collected through the real collector from the
loopback replay of bundled real responses, a built digest in the archive and the Maildir,
a demo admin, and a banner on every page."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest.demo.replay import ReplayServer
from digest.demo.setup import ADMIN_EMAIL, prepare
from digest.models import Council, CouncilStatus, Digest, Meeting
from digest.runtime import Runtime
from tests.conftest import make_app, make_config
from tests.support.clock import Clock


@pytest.fixture
def demo_rt(tmp_path: Path, engine: Engine, clock: Clock) -> Runtime:
    config = make_config(tmp_path, engine, site={"demo": True})
    runtime = Runtime.from_config(config, engine=engine)
    runtime.clock = clock
    return runtime


def test_demo_collects_two_councils_builds_and_mails_a_digest(demo_rt: Runtime) -> None:
    replay = ReplayServer(demo_rt.now().date())
    replay.start()
    try:
        ready = prepare(demo_rt, replay)
        again = prepare(demo_rt, replay)  # a second `make demo` starts cleanly
    finally:
        replay.stop()
    assert ready.admin_email == ADMIN_EMAIL and len(again.admin_password) >= 12
    assert "2 of 2 councils collected" in ready.collected, ready.collected
    with demo_rt.read_sessions() as session:
        enabled = session.scalars(
            sa.select(Council.slug).where(Council.status == CouncilStatus.ENABLED)
        ).all()
        assert sorted(enabled) == ["cheshire-east", "manchester"]
        assert session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 4
        assert session.scalar(sa.select(sa.func.count()).select_from(Digest)) == 2
    box = mailbox.Maildir(demo_rt.config.mail.maildir_path, create=False)
    subjects = sorted(" ".join(str(box.get_message(k)["Subject"]).split()) for k in box.keys())
    assert any(s.startswith("Cheshire East") and "decisions" in s for s in subjects), subjects
    client = make_app(demo_rt).test_client()
    page = client.get("/councils/cheshire-east")
    assert b"demo-banner" in page.data
    meeting = client.get("/councils/cheshire-east/meetings/1")
    text = meeting.get_data(as_text=True)
    assert "Strategic Planning Board" in text and "APPROVED subject to 5 conditions" in text
    assert "Basil Curley" not in text  # Manchester's attendee stays Manchester's


def test_without_demo_there_is_no_banner(rt: Runtime) -> None:
    page = make_app(rt).test_client().get("/")
    assert page.status_code == 200 and b"demo-banner" not in page.data
