"""After erasure no column of any table holds the person's address, name or organisation
(issue 10: the admins' "New request" emails kept in the outbox still carried them)."""

from __future__ import annotations

import sqlalchemy as sa

from digest import admins, professional_requests, subscriptions
from digest.db import Base
from digest.models import EnablementRequest, Subscriber
from digest.runtime import Runtime
from tests.integration.helpers import (
    active_subscription,
    make_admin,
    professional_request,
    run_delivery,
)

EMAIL = "pat.reporter@example.net"
NAME = "Pat Reporter"  # what professional_request fills in
ORGANISATION = "Wigan Observer"


def _dump(rt: Runtime) -> list[tuple[str, str, str]]:
    """(table, column, value) for every non-empty value in the database."""
    found = []
    with rt.read_sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(sa.select(table)):
                for column, value in row._mapping.items():
                    if value is not None:
                        found.append((table.name, str(column), str(value)))
    return found


def test_erasure_leaves_no_copy_in_any_table(rt: Runtime) -> None:
    make_admin(rt)
    active_subscription(rt, EMAIL, "leeds")
    first = professional_request(rt, "wigan", EMAIL, subscribe=True)
    second = professional_request(rt, "bolton", EMAIL)
    with rt.sessions.begin() as session:
        request = session.get_one(EnablementRequest, second)
        note = f"Sorry {NAME}, not this year."
        professional_requests.decide(
            session, rt.mail, request, approve=False, admin=None, note=note, now=rt.now()
        )
        admins.record(
            session,
            actor="admin@councildigest.example.org",
            action="request.decline",
            target=f"request {second} (bolton)",
            detail=note,
            now=rt.now(),
        )
    run_delivery(rt)  # the admins' "New request" emails are sent and kept
    before = _dump(rt)
    for needle in (EMAIL, NAME, ORGANISATION):
        assert any(needle.lower() in value.lower() for _, _, value in before), needle
    assert any(t == "outbox_messages" and NAME in v for t, _, v in before)
    with rt.sessions.begin() as session:
        subscriber_id = session.scalars(
            sa.select(Subscriber.id).where(Subscriber.email == EMAIL)
        ).one()
        subscriptions.erase(
            session, subscriber_id=subscriber_id, now=rt.now(), secret_key=rt.config.site.secret_key
        )
    left = [
        (table, column, value)
        for table, column, value in _dump(rt)
        for needle in (EMAIL, NAME, ORGANISATION, "pat.reporter")
        if needle.lower() in value.lower()
    ]
    assert left == []
    assert first
