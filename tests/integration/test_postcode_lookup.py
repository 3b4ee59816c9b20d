"""Postcode and place search on the home page's box (/councils?q=), against a loopback
fake of the postcodes.io API: two-tier, unitary, unknown, timeout, malformed JSON."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from digest.lookup.postcodes import normalise
from digest.models import LookupCache
from digest.runtime import Runtime
from tests.conftest import make_app, make_config
from tests.support.clock import Clock
from tests.support.postcodes import FakePostcodes
from tests.support.web import text


@pytest.fixture
def fake_postcodes() -> Iterator[FakePostcodes]:
    fake = FakePostcodes()
    yield fake
    fake.stop()


@pytest.fixture
def lookup_rt(
    tmp_path: Path, engine: Engine, clock: Clock, fake_postcodes: FakePostcodes
) -> Runtime:
    config = make_config(
        tmp_path, engine, lookup={"postcode_api": fake_postcodes.url, "timeout": 0.5}
    )
    runtime = Runtime.from_config(config, engine=engine)
    runtime.clock = clock
    return runtime


@pytest.fixture
def lookup_client(lookup_rt: Runtime) -> FlaskClient:
    return make_app(lookup_rt).test_client()


def test_postcode_shapes() -> None:
    assert normalise("wn11yn") == "WN1 1YN"
    assert normalise(" SW1A  1AA ") == "SW1A 1AA"
    assert normalise("EC1A1BB") == "EC1A 1BB"
    for bad in ("WN1", "1YN", "WN1 1Y", "Wigan", "WN1 1YN 2", "", "ZZ99 9ZZZ", "W1 1Y1"):
        assert normalise(bad) is None, bad


def test_unitary_postcode_goes_straight_to_the_council(
    lookup_client: FlaskClient, fake_postcodes: FakePostcodes
) -> None:
    page = lookup_client.get("/councils?q=wn1+1yn")
    assert page.status_code == 302
    assert page.headers["Location"].endswith("/councils/wigan?postcode=WN1+1YN")
    assert fake_postcodes.requests == ["/postcodes/WN11YN"]


def test_two_tier_postcode_lists_district_and_county_with_status(
    lookup_client: FlaskClient,
) -> None:
    html = text(lookup_client.get("/councils?q=IP33+3YU"))
    assert "2 councils cover IP33 3YU (Abbeygate ward)" in html
    assert html.index("West Suffolk Council") < html.index("Suffolk County Council")
    assert "county council decides things like schools" in html
    assert html.count("waitlist") >= 2 or html.count("Waitlist") >= 2


def test_answers_are_cached_in_process_and_database(
    lookup_client: FlaskClient, lookup_rt: Runtime, fake_postcodes: FakePostcodes
) -> None:
    for _ in range(3):
        lookup_client.get("/councils?q=IP33+3YU")
    assert len(fake_postcodes.requests) == 1
    with lookup_rt.read_sessions() as session:
        row = session.scalar(sa.select(LookupCache))
        assert row is not None and row.key == "postcode:IP33 3YU"
        assert row.value["gss_codes"] == ["E07000245", "E10000029"]
    # A new process (fresh memory) answers from the database, not the API.
    fresh = Runtime.from_config(lookup_rt.config, engine=lookup_rt.engine)
    fresh.clock = lookup_rt.clock
    assert "Suffolk County Council" in text(
        make_app(fresh).test_client().get("/councils?q=IP333YU")
    )
    assert len(fake_postcodes.requests) == 1


def test_unknown_postcode(lookup_client: FlaskClient) -> None:
    page = lookup_client.get("/councils?q=ZZ9+9ZZ")
    assert page.status_code == 200
    assert "ZZ9 9ZZ is not a postcode we can find" in text(page)


def test_malformed_postcode_never_reaches_the_service(
    lookup_client: FlaskClient, fake_postcodes: FakePostcodes
) -> None:
    page = lookup_client.get("/councils?q=WN1+1Y")
    assert page.status_code == 400
    assert "looks like part of a postcode" in text(page)
    assert fake_postcodes.requests == []


@pytest.mark.parametrize("fault", ["timeout", "garbage"])
def test_service_down_or_garbage_gives_a_plain_message_and_names_still_work(
    lookup_client: FlaskClient, fake_postcodes: FakePostcodes, lookup_rt: Runtime, fault: str
) -> None:
    if fault == "timeout":
        fake_postcodes.delay = 2.0
    else:
        fake_postcodes.garbage = True
    page = lookup_client.get("/councils?q=WN1+1YN")
    assert page.status_code == 200
    html = text(page)
    assert "We could not look up WN1 1YN" in html
    assert "search by council name or town" in html or "could not read" in html
    with lookup_rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(LookupCache)) == 0
    assert lookup_client.get("/councils?q=wigan").status_code == 302


def test_lookup_turned_off(client: FlaskClient) -> None:
    html = text(client.get("/councils?q=WN1+1YN"))
    assert "postcode search is turned off" in html


@pytest.mark.parametrize(
    ("query", "slug"),
    [("Wigen", "wigan"), ("Leigh", "wigan"), ("Bury St Edmunds", "west-suffolk"),
     ("bury st edmonds", "west-suffolk"), ("Forest Heath", "west-suffolk")],
)  # fmt: skip
def test_towns_former_names_and_typos_lead_to_the_council(
    client: FlaskClient, query: str, slug: str
) -> None:
    page = client.get("/councils", query_string={"q": query})
    if page.status_code == 302:
        assert page.headers["Location"].endswith(f"/councils/{slug}")
    else:
        html = text(page)
        first = html.index("<tbody>")
        assert f'href="/councils/{slug}"' in html[first : first + 400], html[first : first + 400]
