"""Councillors collected from the fake ModernGov server (real GetCouncillorsByWard
answers from tests/fixtures/moderngov), kept with history, shown and linked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from digest.collector import councillors as collecting
from digest.collector.http_client import Fetcher
from digest.models import Attendee, Councillor
from digest.runtime import Runtime
from tests.conftest import make_app, make_config
from tests.integration.collecting import point_at_fake
from tests.support.clock import Clock
from tests.support.meetings import Item, add_meeting
from tests.support.moderngov import FakeModernGov, FakeSite, Reply, fixture, loopback_resolver
from tests.support.postcodes import FakePostcodes, answer
from tests.support.web import text

HOST = "moderngov.oadby-wigston.gov.uk"
OADBY = fixture("getcouncillorsbyward_oadby_wigston_one_ward_redacted_2016.xml")
KAUFMAN = b"<councillorid>137</councillorid>"


def without_kaufman(body: bytes) -> bytes:
    """The same ward after Councillor Kaufman stood down: his <councillor> removed."""
    start = body.index(KAUFMAN)
    start = body.rindex(b"<councillor>", 0, start)
    end = body.index(b"</councillor>", start) + len(b"</councillor>")
    return body[:start] + body[end:]


def serve(site: FakeSite, by_ward: Callable[[], bytes], by_postcode: bytes | None = None) -> None:
    def handler(request: object) -> Reply | None:
        operation = getattr(request, "path", "").rsplit("/", 1)[-1].lower()
        if operation == "getcouncillorsbyward":
            return Reply(by_ward())
        if operation == "getcouncillorsbypostcode" and by_postcode is not None:
            return Reply(by_postcode)
        return None

    site.override = handler


def run(rt: Runtime, *slugs: str) -> list[tuple[str, str | None]]:
    fetcher = Fetcher(rt.config.collector, resolver=loopback_resolver)
    return collecting.collect_all(rt.sessions, fetcher, rt.now(), slugs)


def people(rt: Runtime) -> dict[str, Councillor]:
    with rt.read_sessions() as session:
        return {c.name: c for c in session.scalars(sa.select(Councillor))}


@pytest.fixture
def oadby(rt: Runtime, fake_moderngov: FakeModernGov) -> dict[str, bytes]:
    current = {"body": OADBY}
    serve(fake_moderngov.add_site(HOST), lambda: current["body"])
    point_at_fake(rt, "oadby-and-wigston", fake_moderngov, HOST)
    return current


def test_collects_councillors_and_keeps_one_who_leaves(
    rt: Runtime, oadby: dict[str, bytes], clock: Clock
) -> None:
    assert run(rt) == [("oadby-and-wigston", None)]
    found = people(rt)
    assert set(found) == {"M Latif Darr", "Jeffrey Kaufman"}
    darr = found["M Latif Darr"]
    assert (darr.party, darr.ward, darr.roles) == (
        "Liberal Democrats",
        "Oadby Brocks Hill",
        ["Mayor"],
    )
    assert darr.left_at is None

    clock.advance(days=1)
    oadby["body"] = without_kaufman(OADBY)
    assert run(rt) == [("oadby-and-wigston", None)]
    found = people(rt)
    assert found["Jeffrey Kaufman"].left_at == rt.now()
    assert found["M Latif Darr"].left_at is None and found["M Latif Darr"].last_seen_at == rt.now()

    clock.advance(days=1)
    oadby["body"] = OADBY  # listed again: back as current
    run(rt)
    assert people(rt)["Jeffrey Kaufman"].left_at is None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("getcouncillorsbyward_east_herts_empty_2016.xml", "listed no councillors"),
        ("error_leeds_sharepoint_error_page_2016.html", "GetCouncillorsByWard"),
    ],
)
def test_empty_or_html_answers_change_nothing(
    rt: Runtime, oadby: dict[str, bytes], name: str, error: str
) -> None:
    run(rt)
    oadby["body"] = fixture(name)
    outcomes = run(rt)
    assert outcomes[0][0] == "oadby-and-wigston" and error in (outcomes[0][1] or "")
    assert all(c.left_at is None for c in people(rt).values())


def test_pages_and_api(client: FlaskClient, rt: Runtime, oadby: dict[str, bytes]) -> None:
    oadby["body"] = OADBY.replace(
        b"Jeffrey Kaufman", b"Jeffrey &lt;script&gt;alert(1)&lt;/script&gt; Kaufman"
    )
    run(rt)
    with rt.sessions.begin() as session:
        council = session.scalar(sa.text("SELECT id FROM councils WHERE slug='oadby-and-wigston'"))
        from digest.models import Council

        row = session.get_one(Council, council)
        meeting = add_meeting(
            session, row, on=rt.now().date(), committee="Licensing Committee",
            items=[Item("Taxi licensing policy", minutes="RESOLVED: That the policy be adopted.")],
            attendees=[("Councillor M Latif Darr", "Chair", "Liberal Democrats", "Present")],
        )  # fmt: skip
        session.execute(
            sa.update(Attendee)
            .where(Attendee.meeting_id == meeting.id)
            .values(member_source_id="323")
        )
        session.execute(
            sa.text("UPDATE agenda_items SET resolutions = :r WHERE meeting_id = :m"),
            {"r": '["That the policy be adopted."]', "m": meeting.id},
        )
        meeting_id = meeting.id
    darr = people(rt)["M Latif Darr"]

    listing = text(client.get("/councils/oadby-and-wigston/councillors"))
    assert "Oadby Brocks Hill" in listing and "M Latif Darr" in listing and "Mayor" in listing
    assert "<script>alert(1)" not in listing and "Kaufman" in listing

    page = text(client.get(f"/councils/oadby-and-wigston/councillors/{darr.id}"))
    assert "Liberal Democrats" in page and "Licensing Committee" in page
    assert "Taxi licensing policy" in page  # the decision made at a meeting attended
    assert "smallpic.jpg" not in page  # council photos are never hot-linked

    meeting_page = text(client.get(f"/councils/oadby-and-wigston/meetings/{meeting_id}"))
    assert f'href="/councils/oadby-and-wigston/councillors/{darr.id}"' in meeting_page

    data = client.get("/api/v1/councils/oadby-and-wigston/councillors").get_json()
    assert {c["name"] for c in data["councillors"]} >= {"M Latif Darr"}
    assert client.get("/councils/oadby-and-wigston/councillors/999999").status_code == 404


def test_postcode_then_ward_councillors(
    tmp_path: Path, engine: Engine, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    district, county = ("E07000135", "Oadby and Wigston"), ("E10000018", "Leicestershire")
    ward = ("E05012345", "Oadby Brocks Hill")
    postcodes = FakePostcodes(table={"LE25DG": answer("LE2 5DG", district, county, ward)})
    try:
        config = make_config(tmp_path, engine, lookup={"postcode_api": postcodes.url})
        rt = Runtime.from_config(config, engine=engine)
        rt.clock = clock
        site = fake_moderngov.add_site("127.0.0.1")
        serve(site, lambda: OADBY, by_postcode=OADBY)
        point_at_fake(rt, "oadby-and-wigston", fake_moderngov, "127.0.0.1")
        run(rt)
        client = make_app(rt).test_client()
        html = text(client.get("/councils?q=LE2+5DG"))
        assert "2 councils cover LE2 5DG" in html
        assert "Leicestershire County Council" in html
        page = text(client.get("/councils/oadby-and-wigston?postcode=LE2+5DG"))
        assert "Your ward councillors for LE2 5DG" in page and "M Latif Darr" in page
        text(client.get("/councils/oadby-and-wigston?postcode=LE2+5DG"))
        asked = [
            r
            for r in fake_moderngov.requests_to("127.0.0.1")
            if r.operation == "GetCouncillorsByPostcode"
        ]
        assert len(asked) == 1  # cached
    finally:
        postcodes.stop()
