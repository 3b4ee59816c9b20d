"""The demand counter: one order everywhere, ties by earliest demand, only confirmed
demand counts, professional requests weighted."""

from __future__ import annotations

import re

from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from digest import demand
from digest.runtime import Runtime
from tests.integration.helpers import (
    active_subscription,
    make_admin,
    professional_request,
    take_in,
)
from tests.support.clock import Clock
from tests.support.web import post_form, subscribe, text


def ranked_slugs(session: Session, weight: int = 10) -> list[str]:
    return [r.council.slug for r in demand.ranking(session, weight) if r.position]


def test_order_ties_weights_and_unconfirmed_demand(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    # Leeds: 3 subscribers. Wigan: 1 subscriber + 1 confirmed professional request (1 + 10).
    # Bolton and Bury: 2 each; Bury asked first, so it wins the tie.
    for i in range(3):
        active_subscription(rt, f"leeds{i}@example.net", "leeds")
    clock.advance(minutes=1)
    active_subscription(rt, "bury1@example.net", "bury")
    clock.advance(minutes=1)
    active_subscription(rt, "bolton1@example.net", "bolton")
    active_subscription(rt, "bolton2@example.net", "bolton")
    clock.advance(minutes=1)
    active_subscription(rt, "bury2@example.net", "bury")
    active_subscription(rt, "wigan1@example.net", "wigan")
    professional_request(rt, "wigan", "pat@observer.example")
    # Unconfirmed demand never counts: a pending subscription and an unconfirmed request.
    subscribe(client, "hartlepool", "pending@example.net")
    take_in(rt)
    professional_request(rt, "hartlepool", "unconfirmed@example.net", confirm=False)

    with rt.read_sessions() as session:
        assert ranked_slugs(session) == ["wigan", "leeds", "bury", "bolton"]
        assert ranked_slugs(session, weight=1) == ["leeds", "bury", "bolton", "wigan"]
        rows = {r.council.slug: r for r in demand.ranking(session, 10)}
    assert (rows["wigan"].subscribers, rows["wigan"].requests, rows["wigan"].score) == (1, 1, 11)
    assert rows["hartlepool"].score == 0 and rows["hartlepool"].position is None

    # The same order on the public page, the CLI and the admin queue.
    page = text(client.get("/waitlist"))
    assert [page.index(n) for n in ("Wigan", "Leeds", "Bury", "Bolton")] == sorted(
        page.index(n) for n in ("Wigan", "Leeds", "Bury", "Bolton")
    )
    from digest.cli import CliState, main

    result = CliRunner().invoke(main, ["demand"], obj=CliState(None, rt))
    assert result.exit_code == 0, result.output
    assert re.findall(r"^\s+\d+\s+\d+\s+\d+\s+\d+\s+\S+ \S+\s+(\S+)", result.output, re.M) == [
        "wigan",
        "leeds",
        "bury",
        "bolton",
    ]
    assert "4 of 382 waitlisted councils have demand" in result.output
    make_admin(rt)
    post_form(
        client,
        "/admin/login",
        "/admin/login",
        {"email": "admin@councildigest.example.org", "password": "correct horse battery staple"},
    )
    queue = text(client.get("/admin/queue"))
    assert [queue.index(n) for n in ("Wigan", "Leeds", "Bury", "Bolton")] == sorted(
        queue.index(n) for n in ("Wigan", "Leeds", "Bury", "Bolton")
    )


def test_enabled_councils_leave_the_queue(session: Session, rt: Runtime) -> None:
    from digest import councils, enablement

    active_subscription(rt, "a@example.net", "leeds")
    active_subscription(rt, "b@example.net", "wigan")
    wigan = councils.get_by_slug(session, "wigan")
    assert wigan is not None
    enablement.enable(session, wigan, rt.now())
    session.commit()
    assert ranked_slugs(session) == ["leeds"]
