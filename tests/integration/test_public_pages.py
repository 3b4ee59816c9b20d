"""What a visitor sees: the directory, a council's page, the waitlist, the API."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import Council, CouncilStatus
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription
from tests.support.web import text


def test_home_page(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = text(page)
    assert "Find your council" in html and "382" in html and "How it works" in html


def test_search_by_name(client: FlaskClient) -> None:
    html = text(client.get("/councils?q=wig"))
    assert "3 councils matching" in html
    for name in ("Wigan Metropolitan Borough Council", "Isle of Wight", "Oadby and Wigston"):
        assert name in html
    assert "Leeds" not in html
    # One match goes straight to the council (SPEC §12.4).
    assert client.get("/councils?q=WIGAN+borough").headers["Location"].endswith("/councils/wigan")
    assert "No council matches" in text(client.get("/councils?q=zzzz"))
    assert "382 councils" in text(client.get("/councils"))
    assert "No council matches" in text(
        client.get("/councils?q=%25+_")
    )  # LIKE wildcards are literal


def test_waitlisted_council_page(client: FlaskClient, rt: Runtime) -> None:
    html = text(client.get("/councils/wigan"))
    assert "Limited support for Wigan" in html
    assert "Fewer than 10" in html
    assert "Not ranked yet" in html
    assert 'name="email"' in html and 'name="csrf_token"' in html
    active_subscription(rt, "a@example.net", "leeds")
    active_subscription(rt, "b@example.net", "wigan")
    active_subscription(rt, "c@example.net", "wigan")
    html = text(client.get("/councils/wigan"))
    assert "<dd>1</dd>" in html  # two people beat one
    assert "<dd>2</dd>" in text(client.get("/councils/leeds"))


def test_enabled_council_page(client: FlaskClient, rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council)
            .where(Council.slug == "wigan")
            .values(status=CouncilStatus.ENABLED, enabled_at=rt.now(), last_success_at=rt.now())
        )
    html = text(client.get("/councils/wigan"))
    assert "Limited support" not in html
    assert "Get the weekly digest" in html and "Coming up" in html


def test_waitlist_ranks_by_demand_with_buckets(client: FlaskClient, rt: Runtime) -> None:
    for i in range(11):
        active_subscription(rt, f"w{i}@example.net", "wigan")
    active_subscription(rt, "l@example.net", "leeds")
    html = text(client.get("/waitlist"))
    assert html.index("Wigan") < html.index("Leeds")
    assert "10+" in html and "Fewer than 10" in html
    assert "380 more councils have nobody waiting yet" in html


def test_api(client: FlaskClient, rt: Runtime) -> None:
    listing = client.get("/api/v1/councils").get_json()
    assert len(listing["councils"]) == 382
    wigan = client.get("/api/v1/councils/wigan").get_json()
    assert wigan["status"] == "waitlist" and wigan["gss_code"] == "E08000010"
    assert wigan["waitlist"] == {"position": None, "waiting": "Fewer than 10"}
    missing = client.get("/api/v1/councils/atlantis")
    assert missing.status_code == 404 and missing.get_json()["status"] == 404
