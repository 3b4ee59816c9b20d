"""Parsers for what outside services send: ModernGov councillor lists (real answers from
tests/fixtures/moderngov) and postcodes.io answers, including broken ones."""

from __future__ import annotations

import json

import pytest

from digest.collector.councillors import parse_by_postcode, parse_by_ward
from digest.collector.http_client import Fetched, Validator
from digest.collector.safexml import BadResponse
from digest.lookup.postcodes import LookupUnavailable, looks_like_postcode, parse_answer
from digest.search import terms_of
from tests.support.moderngov import fixture
from tests.support.postcodes import BURY_ST_EDMUNDS, WIGAN


def fetched(body: bytes, content_type: str = "text/xml") -> Fetched:
    return Fetched("http://x/", "http://x/", 200, body, content_type, Validator())


def test_greater_london_authority_councillors() -> None:
    found = parse_by_ward(
        fetched(fixture("getcouncillorsbyward_greater_london_authority_2016.xml"))
    )
    print(f"GLA: {len(found)} members")
    assert len(found) >= 20
    cleverly = next(c for c in found if c.source_id == "119")
    assert (cleverly.name, cleverly.party, cleverly.ward) == (
        "James Cleverly MP", "Conservative", "Bexley and Bromley"
    )  # fmt: skip
    assert len({c.source_id for c in found}) == len(found)


def test_oadby_councillors_roles_and_honorific() -> None:
    found = parse_by_ward(
        fetched(fixture("getcouncillorsbyward_oadby_wigston_one_ward_redacted_2016.xml"))
    )
    assert [(c.name, c.roles) for c in found][:2] == [
        ("M Latif Darr", ("Mayor",)),
        ("Jeffrey Kaufman", ()),
    ]
    assert parse_by_postcode(
        fetched(fixture("getcouncillorsbyward_oadby_wigston_one_ward_redacted_2016.xml"))
    )[:2] == ["323", "137"]


def test_empty_and_html_answers() -> None:
    assert parse_by_ward(fetched(fixture("getcouncillorsbyward_east_herts_empty_2016.xml"))) == []
    for name in ("error_leeds_sharepoint_error_page_2016.html",
                 "error_denbighshire_http_redirect_script_2016.html"):  # fmt: skip
        with pytest.raises(BadResponse):
            parse_by_ward(fetched(fixture(name), "text/html"))


def test_postcode_answers() -> None:
    assert parse_answer("WN1 1YN", json.dumps(WIGAN).encode()).gss_codes == ("E08000010",)
    two_tier = parse_answer("IP33 3YU", json.dumps(BURY_ST_EDMUNDS).encode())
    assert two_tier.gss_codes == ("E07000245", "E10000029") and two_tier.ward == "Abbeygate"
    for broken in (b"{not json", b"[]", b'{"result": null}', b'{"result": {"codes": 3}}', b"\xff"):
        with pytest.raises(LookupUnavailable):
            parse_answer("WN1 1YN", broken)
    hostile = {"result": {"codes": {"admin_district": "'; DROP TABLE", "admin_county": None}}}
    assert parse_answer("WN1 1YN", json.dumps(hostile).encode()).gss_codes == ()


def test_partial_postcodes_and_search_terms() -> None:
    assert looks_like_postcode("WN1") and looks_like_postcode("wn1 1y")
    assert not looks_like_postcode("Wigan") and not looks_like_postcode("Leigh")
    assert terms_of('"school" AND transport* NEAR(x)') == ["school", "transport", "near", "x"]
    assert (
        len(terms_of("word " * 5000)) == 1
        and len(terms_of(" ".join(f"w{i}" for i in range(99)))) == 8
    )
