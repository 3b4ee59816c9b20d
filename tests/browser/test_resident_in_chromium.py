"""A person subscribes in real headless Chromium: fills the form, opens the link from
the email that landed in the Maildir, presses Confirm, and can see the result."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from digest.models import Subscription, SubscriptionStatus
from digest.runtime import Runtime
from tests.integration.helpers import deliver
from tests.support.live import LiveServer
from tests.support.mail import link_with, maildir_messages, subject

pytestmark = pytest.mark.browser


def test_subscribe_and_confirm_in_chromium(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    artifacts: Path,
) -> None:
    rt, server = live_site()

    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    outside: list[str] = []
    context.route(
        "**/*",
        lambda route: (
            (outside.append(route.request.url), route.abort())
            if not route.request.url.startswith(server.url)
            else route.continue_()
        ),
    )
    page = context.new_page()
    page.goto(f"{server.url}/")
    page.get_by_label("Find your council").fill("Wigan")
    page.get_by_role("button", name="Search").click()  # one match: straight to the council
    expect(page.get_by_role("heading", name="Limited support for Wigan")).to_be_visible()
    page.get_by_label("Email address").fill("chromium.resident@example.net")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    page.screenshot(path=str(artifacts / "subscribe-check-email.png"), full_page=True)

    deliver(rt)
    [confirmation] = maildir_messages(rt.config.mail.maildir_path)
    assert subject(confirmation).startswith("Confirm your subscription")
    page.goto(link_with(confirmation, "/confirm/"))
    with rt.read_sessions() as session:
        assert session.scalars(sa.select(Subscription.status)).one() == SubscriptionStatus.PENDING
    page.get_by_role("button", name="Confirm subscription").click()
    expect(
        page.get_by_role("heading", name="You're subscribed to Wigan Metropolitan Borough Council")
    ).to_be_visible()
    page.screenshot(path=str(artifacts / "subscribe-confirmed.png"), full_page=True)
    with rt.read_sessions() as session:
        assert session.scalars(sa.select(Subscription.status)).one() == SubscriptionStatus.ACTIVE

    # No horizontal scrolling on a phone, and nothing fetched from anywhere else.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert outside == []
    context.close()


def test_form_errors_are_announced_and_keyboard_usable(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
) -> None:
    _rt, server = live_site()
    page = browser.new_page()
    page.goto(f"{server.url}/councils/leeds")
    email = page.get_by_label("Email address")
    email.fill("not an address")
    email.press("Enter")
    expect(page.get_by_text("Enter an email address in the correct format")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
    # The skip link is the first thing a keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.close()
