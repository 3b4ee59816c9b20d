"""A resident in a two-tier area types their postcode on the home page in real
Chromium, sees both councils with their status, picks one and subscribes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from digest.runtime import Runtime
from tests.integration.helpers import deliver
from tests.support.live import LiveServer
from tests.support.mail import maildir_messages, subject
from tests.support.postcodes import FakePostcodes

pytestmark = pytest.mark.browser


def test_postcode_to_councils_to_subscribe(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    artifacts: Path,
) -> None:
    postcodes = FakePostcodes()
    try:
        rt, server = live_site(lookup={"postcode_api": postcodes.url})
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        page.goto(f"{server.url}/")
        page.get_by_label("Find your council").fill("ip33 3yu")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_text("2 councils cover IP33 3YU")).to_be_visible()
        expect(page.get_by_role("link", name="Suffolk County Council")).to_be_visible()
        page.screenshot(path=str(artifacts / "postcode-two-tier.png"), full_page=True)
        page.get_by_role("link", name="West Suffolk Council").click()
        expect(page.get_by_role("heading", name="Limited support for West Suffolk")).to_be_visible()
        page.get_by_label("Email address").fill("two.tier@example.net")
        page.get_by_role("button", name="Subscribe").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        deliver(rt)
        [confirmation] = maildir_messages(rt.config.mail.maildir_path)
        assert subject(confirmation).startswith("Confirm your subscription")
        # A typo'd town from the home page reaches its council too.
        page.goto(f"{server.url}/")
        page.get_by_label("Find your council").fill("Wigen")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("heading", name="Limited support for Wigan")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        context.close()
    finally:
        postcodes.stop()
