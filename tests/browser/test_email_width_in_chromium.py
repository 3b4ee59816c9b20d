"""Issue 19: the confirmation email, as css-inline leaves it, fits a 390 px phone even
with a long confirmation address shown as text (it used to widen the email to ~860 px)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from digest.mail.render import render_email

pytestmark = pytest.mark.browser

# The length of a real confirmation link: site origin plus a signed token.
URL = "https://councildigest.example.org/subscriptions/confirm/" + "eyJzIjoxMjN9" * 12


def test_confirmation_email_fits_a_phone(browser: Any) -> None:
    html = render_email(
        "confirm_subscription",
        site_name="Council Digest",
        base_url="https://councildigest.example.org",
        contact_email="hello@councildigest.example.org",
        council=SimpleNamespace(name="Wigan Metropolitan Borough Council", short_name="Wigan"),
        expires_hours=72,
        confirm_url=URL,
    ).html
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.set_content(html)
        width = page.evaluate("document.documentElement.scrollWidth")
        print(f"confirmation email scrollWidth at 390 px: {width}")
        assert width <= 390
    finally:
        context.close()
