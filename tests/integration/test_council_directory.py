"""Issue 19: /councils a letter at a time with an A-Z index, and the demand bucket
column SPEC §6 asks for."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import Council, CouncilStatus
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription
from tests.support.web import text


def rows(html: str) -> int:
    return html.split("<tbody>", 1)[1].split("</tbody>", 1)[0].count("<tr>")


def test_the_directory_is_a_letter_at_a_time_with_demand_buckets(
    client: FlaskClient, rt: Runtime
) -> None:
    for n in range(10):
        active_subscription(rt, f"reader{n}@example.net", "wigan")
    first = text(client.get("/councils"))
    assert "382 councils: 12 under A" in first and rows(first) == 12
    assert 'aria-label="Councils A to Z"' in first and 'href="/councils?letter=W"' in first

    w = text(client.get("/councils?letter=w"))
    assert "Councils beginning with W" in w
    wigan = w.split("Wigan Metropolitan Borough Council", 1)[1].split("</tr>", 1)[0]
    assert "10+" in wigan  # a bucket, never the count
    # London boroughs are under the name people use.
    assert "London Borough of Camden" in text(client.get("/councils?letter=C"))
    assert rows(text(client.get("/councils?letter=all"))) == 382
    assert rows(text(client.get("/councils?letter=%3C"))) == 12  # nonsense: the first letter

    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council).where(Council.slug == "leeds").values(status=CouncilStatus.ENABLED)
        )
    few = text(client.get("/councils?status=enabled"))  # a short list: all of it, no index
    assert rows(few) == 1 and "Councils A to Z" not in few
    leeds = few.split("Leeds City Council", 1)[1].split("</tr>", 1)[0]
    assert "Weekly digests" in leeds and "not applicable" in leeds
