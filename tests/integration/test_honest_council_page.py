"""An enabled council whose collection failed says so at once, not only once it has
been stale for 48 hours (issue 19)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from digest import councils
from digest.models import CouncilStatus
from tests.support.clock import Clock


def _enabled_wigan(session: Session, clock: Clock) -> None:
    council = councils.get_by_slug(session, "wigan")
    assert council is not None
    council.status = CouncilStatus.ENABLED
    council.enabled_at = clock() - timedelta(hours=2)
    council.base_url = "https://democracy.wigan.gov.uk"
    session.commit()


def test_a_council_never_read_says_so(client: FlaskClient, session: Session, clock: Clock) -> None:
    _enabled_wigan(session, clock)
    council = councils.get_by_slug(session, "wigan")
    assert council is not None
    council.last_error = "connection failed"
    council.last_error_at = clock() - timedelta(hours=1)
    session.commit()
    text = client.get("/councils/wigan").get_data(as_text=True)
    assert "We have not been able to read Wigan's meetings website yet" in text


def test_a_failed_latest_collection_says_so(
    client: FlaskClient, session: Session, clock: Clock
) -> None:
    _enabled_wigan(session, clock)
    council = councils.get_by_slug(session, "wigan")
    assert council is not None
    council.last_success_at = clock() - timedelta(hours=1, minutes=30)
    council.last_error = "did not answer within 30 s"
    council.last_error_at = clock() - timedelta(minutes=20)
    session.commit()
    text = client.get("/councils/wigan").get_data(as_text=True)
    assert "Our latest attempt to read Wigan's meetings website failed" in text
    council.last_success_at = clock() - timedelta(minutes=5)
    session.commit()
    assert "latest attempt" not in client.get("/councils/wigan").get_data(as_text=True)


def test_privacy_notice_names_controller_basis_retention_and_the_ico(client: FlaskClient) -> None:
    text = client.get("/privacy").get_data(as_text=True)
    for needed in (
        "data controller",
        "lawful basis",
        "How long we keep it",
        "seven days",
        "Information Commissioner",
        "hello@councildigest.example.org",
    ):
        assert needed in text, needed
