"""Issue 19: pages that overflowed (or never ended) on a 390 px phone, measured in real
headless Chromium: no horizontal scrolling, buttons fully on screen, and /councils a
page one can get to the end of."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from playwright.sync_api import Locator, Page, expect

from digest.models import Subscriber
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, make_admin
from tests.support.live import LiveServer

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def page_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def page_height(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollHeight"))


def fully_in_viewport(page: Page, selector: str) -> list[str]:
    """The elements matching `selector` that stick out of the viewport sideways."""
    return list(
        page.evaluate(
            """selector => [...document.querySelectorAll(selector)]
                .filter(e => { const r = e.getBoundingClientRect();
                               return r.left < 0 || r.right > window.innerWidth || r.width === 0; })
                .map(e => e.textContent.trim())""",
            selector,
        )
    )


def fits_a_phone(page: Page, artifacts: Path, name: str, control: Locator, controls: str) -> None:
    """The page at 390 px (screenshot `name`-390.png): no sideways scrolling, `control`
    reachable in full, and no element matching `controls` sticking out."""
    page.screenshot(path=str(artifacts / f"{name}-390.png"), full_page=True)
    width = page_width(page)
    print(f"{name} at 390 px: scrollWidth {width}")
    assert width <= 390
    control.scroll_into_view_if_needed()
    expect(control).to_be_in_viewport(ratio=1)
    assert fully_in_viewport(page, controls) == []


def test_manage_page_fits_a_phone(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    artifacts: Path,
) -> None:
    rt, _server = live_site()
    address = "a.rather.long.name.for.a.phone.reader@mail.subdomain.example.net"  # must wrap
    for slug in ("wigan", "stockport", "bath-and-north-east-somerset"):
        active_subscription(rt, address, slug)
    with rt.read_sessions() as session:
        subscriber = session.scalars(sa.select(Subscriber)).one()
        link = rt.links.manage(subscriber.id, subscriber.link_secret)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(link)
    expect(page.get_by_role("heading", name="Manage your subscriptions")).to_be_visible()
    fits_a_phone(
        page,
        artifacts,
        "manage",
        page.get_by_role("button", name="Unsubscribe from Wigan"),
        "main button",
    )
    context.close()


def test_admin_queue_fits_a_phone(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    artifacts: Path,
) -> None:
    rt, server = live_site()
    for slug in ("bath-and-north-east-somerset", "wigan", "stockport"):
        active_subscription(rt, f"reader@{slug}.example.net", slug)
    make_admin(rt, "admin@councildigest.example.org", "correct horse battery staple")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email address").fill("admin@councildigest.example.org")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    page.goto(f"{server.url}/admin/queue")
    expect(page.get_by_role("heading", name="Demand queue")).to_be_visible()
    enable = page.get_by_role("link", name="Enable Wigan Metropolitan Borough Council")
    fits_a_phone(page, artifacts, "admin-queue", enable, "main .button")
    context.close()


def test_council_directory_on_a_phone(
    browser: Any,
    live_site: Callable[..., tuple[Runtime, LiveServer]],
    artifacts: Path,
) -> None:
    rt, server = live_site()
    for n in range(12):
        active_subscription(rt, f"reader{n}@example.net", "wigan")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{server.url}/councils")
    expect(page.get_by_role("heading", name="Find your council")).to_be_visible()
    height, width = page_height(page), page_width(page)
    print(f"/councils at 390 px: scrollHeight {height}, scrollWidth {width}")
    page.screenshot(path=str(artifacts / "councils-390.png"), full_page=True)
    assert width <= 390
    assert height < 8000  # one 382-row table was about 29,000 px

    # The A-Z index leads to each letter's councils.
    index = page.get_by_role("navigation", name="Councils A to Z")
    index.get_by_role("link", name="W", exact=True).click()
    expect(page.get_by_role("heading", name="Councils beginning with W")).to_be_visible()
    wigan = page.get_by_role("row", name="Wigan Metropolitan Borough Council")
    expect(wigan).to_contain_text("10+")  # SPEC §6: the demand bucket, not the count
    assert page_width(page) <= 390
    page.screenshot(path=str(artifacts / "councils-w-390.png"), full_page=True)
    context.close()
