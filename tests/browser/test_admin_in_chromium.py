"""An admin in real headless Chromium: signs in, enables the most wanted council from the
demand queue, and sees it leave the queue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from digest.clock import utcnow
from digest.models import Council, CouncilStatus
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, make_admin
from tests.support.clock import Clock
from tests.support.live import LiveServer
from tests.support.moderngov import FakeModernGov, FakeSite, manchester_like

pytestmark = pytest.mark.browser


def test_admin_enables_a_council_in_chromium(
    browser: Any,
    clock: Clock,
    artifacts: Path,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    fake_moderngov: FakeModernGov,
) -> None:
    clock.set(utcnow())
    rt, server = live_site()
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council).where(Council.slug == "bolton").values(base_url=fake_moderngov.url())
        )
    active_subscription(rt, "a@example.net", "bolton")
    active_subscription(rt, "b@example.net", "bolton")
    active_subscription(rt, "c@example.net", "leeds")
    make_admin(rt, "admin@councildigest.example.org", "correct horse battery staple")

    page = browser.new_page()
    page.goto(f"{server.url}/admin/")
    expect(page.get_by_role("heading", name="Admin sign in")).to_be_visible()
    page.get_by_label("Email address").fill("admin@councildigest.example.org")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.get_by_role("link", name="Demand queue").click()
    rows = page.locator("tbody tr")
    expect(rows.first).to_contain_text("Bolton")
    page.screenshot(path=str(artifacts / "admin-queue.png"), full_page=True)
    rows.first.get_by_role("link", name="Enable Bolton Metropolitan Borough Council").click()
    # Enabling emails everyone waiting, so it asks first and says how many.
    expect(
        page.get_by_role("heading", name="Enable Bolton Metropolitan Borough Council?")
    ).to_be_visible()
    page.get_by_role("button", name="Enable and email 2 people").click()
    expect(page.get_by_text("Bolton Metropolitan Borough Council is enabled.")).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr").first).to_contain_text("Leeds")
    page.screenshot(path=str(artifacts / "admin-queue-after-enable.png"), full_page=True)
    rt.wait_for_background()
    with rt.read_sessions() as session:
        bolton = session.scalars(sa.select(Council).where(Council.slug == "bolton")).one()
    assert bolton.status == CouncilStatus.ENABLED and bolton.last_success_at is not None
    page.close()
