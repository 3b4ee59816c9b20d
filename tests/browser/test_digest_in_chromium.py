"""The HTML digest as a mail client would show it, in real headless Chromium: nothing
loaded from anywhere, the unsubscribe link visible, no sideways scrolling on a phone."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from digest import councils
from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.models import Digest
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings, build_council_digest
from digest.weekly.weeks import IsoWeek
from tests.support.clock import Clock
from tests.support.meetings import BUILD_AT, WEEK, arrange_busy_week, enable

pytestmark = pytest.mark.browser


def built_digest(rt: Runtime, clock: Clock) -> Digest:
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", clock.now)
        council.last_success_at = BUILD_AT - timedelta(hours=3)
        arrange_busy_week(session, council)
    clock.set(BUILD_AT)
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "manchester")
        assert council is not None
        result = build_council_digest(
            session,
            council,
            IsoWeek.parse(WEEK),
            rt.now(),
            BuildSettings.from_config(rt.config),
            rt.links,
        )
    with rt.read_sessions() as session:
        return session.scalars(sa.select(Digest).where(Digest.id == result.digest_id)).one()


@pytest.mark.parametrize(("width", "name"), [(600, "desktop"), (390, "phone")])
def test_digest_html_in_chromium(
    browser: Any, rt: Runtime, clock: Clock, artifacts: Path, width: int, name: str
) -> None:
    digest = built_digest(rt, clock)
    unsubscribe = rt.links.unsubscribe(1, "secret")
    html = digest.body_html.replace(UNSUBSCRIBE_PLACEHOLDER, unsubscribe).replace(
        MANAGE_PLACEHOLDER, rt.links.manage(1, "secret")
    )
    context = browser.new_context(viewport={"width": width, "height": 900})
    requested: list[str] = []
    context.route("**/*", lambda route: (requested.append(route.request.url), route.abort()))
    page = context.new_page()
    page.set_content(html, wait_until="load")
    link = page.get_by_role("link", name="Unsubscribe from Manchester")
    assert link.is_visible()
    assert link.get_attribute("href") == unsubscribe
    assert page.get_by_role("heading", name="Manchester City Council").is_visible()
    assert page.get_by_text("To note the forecast overspend of £4.2m.").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(artifacts / f"weekly-digest-{name}.png"), full_page=True)
    context.close()
    assert requested == []  # no images, fonts, stylesheets or trackers from anywhere
