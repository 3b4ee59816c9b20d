"""Issue 19: the confirmation email's plain address must wrap on a phone, not widen the
email to ~860 px. Checked on the HTML after css-inline, which is what mail clients get."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from digest.mail.render import render_email

LONG_URL = "https://digest.example.org/subscriptions/confirm/" + "Ab3x" * 40

COMMON = {
    "site_name": "Council Digest",
    "base_url": "https://digest.example.org",
    "contact_email": "help@digest.example.org",
}


@pytest.mark.parametrize("name", ["confirm_subscription", "confirm_request"])
def test_the_copyable_address_wraps(name: str) -> None:
    council = SimpleNamespace(name="Manchester City Council", short_name="Manchester")
    request = SimpleNamespace(name="Ann", organisation="Acme", email="a@example.org")
    html = render_email(
        name, **COMMON, council=council, request=request, expires_hours=72, confirm_url=LONG_URL
    ).html
    shown = [
        m.group(1) for m in re.finditer(r"<a ([^>]*)>\s*" + re.escape(LONG_URL) + r"\s*</a>", html)
    ]
    assert shown, "the address is shown as a link text"
    for attrs in shown:
        style = re.search(r'style="([^"]*)"', attrs)
        assert style is not None
        assert "word-break: break-all" in style.group(1)
        assert "overflow-wrap: anywhere" in style.group(1)
    # No bare copy of the address outside an element that may wrap it.
    assert html.count(f">{LONG_URL}<") == len(shown)
