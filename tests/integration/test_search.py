"""Search across meetings (/search, /api/v1/search). Every test runs on SQLite (FTS5) and
PostgreSQL (tsvector + GIN) with the same data and the same expected hits."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import search
from digest.models import AgendaItem, Council, Document, Meeting
from digest.runtime import Runtime
from tests.integration.collecting import collect, point_at_fake
from tests.support.meetings import Item, add_meeting, enable, manchester_items
from tests.support.moderngov import FakeModernGov, FakeSite, manchester_like
from tests.support.web import text

DAY = date(2026, 11, 2)


def arrange(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        wigan = enable(session, "wigan", rt.now())
        bolton = enable(session, "bolton", rt.now())
        items, documents, attendees = manchester_items()  # real minutes as the background
        made = [
            add_meeting(
                session, wigan, on=DAY - timedelta(days=30), committee="Cabinet",
                items=[Item("Home to School Transport Policy 2027/28",
                            minutes="RESOLVED: the revised school transport policy is approved.")],
            ),
            add_meeting(
                session, wigan, on=DAY - timedelta(days=10), committee="Children's Scrutiny",
                items=[Item("Transport for pupils with special needs",
                            agenda="A report on transport to school for pupils with SEND.")],
            ),
            add_meeting(session, wigan, on=DAY, committee="Audit Committee", items=items,
                        documents=documents, attendees=attendees),
            add_meeting(
                session, bolton, on=DAY - timedelta(days=3), committee="Cabinet",
                items=[Item("<script>alert(1)</script> School transport contract",
                            agenda="Award of the school transport contract & routes.")],
            ),
            add_meeting(
                session, bolton, on=DAY - timedelta(days=1), committee="Cabinet",
                items=[Item("Exempt item: school transport tender", restricted=True,
                            agenda="Confidential school transport prices")],
            ),
        ]  # fmt: skip
        search.index_meetings(session, made)


def titles(page: search.SearchPage) -> list[tuple[str, str]]:
    return [(h.start_date.isoformat(), h.title) for h in page.hits]


def run(rt: Runtime, text_: str, **filters: object) -> search.SearchPage:
    with rt.read_sessions() as session:
        return search.search(session, search.SearchQuery(text=text_, **filters))  # type: ignore[arg-type]


# Computed by hand from the data above: the same on both engines.
SCHOOL_TRANSPORT = [
    ("2026-11-01", "Exempt item: school transport tender"),
    ("2026-10-30", "<script>alert(1)</script> School transport contract"),
    ("2026-10-23", "Transport for pupils with special needs"),
    ("2026-10-03", "Home to School Transport Policy 2027/28"),
]


def test_school_transport_finds_items_and_decisions_newest_first(rt: Runtime) -> None:
    arrange(rt)
    found = run(rt, "school transport")
    assert titles(found) == SCHOOL_TRANSPORT
    assert found.total == 4 and not found.has_next
    decision = found.hits[-1]
    assert decision.kind == "decision" or "<mark>" in decision.snippet
    assert any("<mark>" in h.snippet for h in found.hits)
    # The restricted item is found by its title only: its confidential text is not indexed.
    assert titles(run(rt, "confidential prices")) == []


def test_filters(rt: Runtime) -> None:
    arrange(rt)
    with rt.read_sessions() as session:
        wigan = session.scalar(sa.text("SELECT id FROM councils WHERE slug = 'wigan'"))
    assert titles(run(rt, "school transport", council_id=wigan)) == SCHOOL_TRANSPORT[2:]
    assert titles(run(rt, "school transport", committee="Cabinet")) == [
        SCHOOL_TRANSPORT[0], SCHOOL_TRANSPORT[1], SCHOOL_TRANSPORT[3]
    ]  # fmt: skip
    assert (
        titles(run(rt, "transport", date_from=date(2026, 10, 20), date_to=date(2026, 10, 31)))
        == SCHOOL_TRANSPORT[1:3]
    )


def test_meeting_titles_and_real_minutes_are_searched(rt: Runtime) -> None:
    arrange(rt)
    assert [h.kind for h in run(rt, "audit committee").hits][:1] == ["meeting"]
    assert run(rt, "work programme").total >= 1


HOSTILE = [
    'school AND NOT transport', '"school', "school*", "NEAR(school transport)",
    "title:school", "^school", "-transport", "school OR", "(", ")", "'; DROP TABLE x; --",
    "school & | ! transport:*", "ｓｃｈｏｏｌ", "*", ":", '""', "{school}",
]  # fmt: skip


def test_fts_operators_are_only_words(client: FlaskClient, rt: Runtime) -> None:
    arrange(rt)
    for hostile in HOSTILE:
        page = client.get("/search", query_string={"q": hostile})
        assert page.status_code == 200, (hostile, text(page))
        api = client.get("/api/v1/search", query_string={"q": hostile})
        assert api.status_code == 200 and "results" in api.get_json(), hostile
    # A NUL byte is refused before any view (digest.web.input): a 400, never a 500.
    assert client.get("/search", query_string={"q": "\x00school"}).status_code == 400
    # Operators are words ("and", "not" and "or" are stop words, dropped on both engines).
    assert titles(run(rt, "school AND NOT transport")) == SCHOOL_TRANSPORT
    assert titles(run(rt, "school NEAR transport")) == []
    assert titles(run(rt, '"school* transport"')) == SCHOOL_TRANSPORT


def test_oversized_and_bad_parameters_get_a_clear_400(client: FlaskClient, rt: Runtime) -> None:
    arrange(rt)
    page = client.get("/search", query_string={"q": "school " * 1500})
    assert page.status_code == 400
    assert "characters long" in text(page)
    api = client.get("/api/v1/search", query_string={"q": "x" * 10_000})
    assert api.status_code == 400 and "characters long" in api.get_json()["error"]
    for bad in ({"page": "0"}, {"page": "abc"}, {"page": "99"}, {"from": "yesterday"},
                {"council": "atlantis"}, {"from": "2026-12-01", "to": "2026-01-01"}):  # fmt: skip
        response = client.get("/api/v1/search", query_string={"q": "school", **bad})
        assert response.status_code == 400, bad
        assert response.get_json()["error"]
    # 500 characters of words: bounded to the first few terms, still answers.
    assert client.get("/search", query_string={"q": "school transport " * 50}).status_code == 200


def test_search_page_and_api(client: FlaskClient, rt: Runtime) -> None:
    arrange(rt)
    html = text(client.get("/search?q=school+transport"))
    assert "4 results for “school transport”" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<mark>" in html
    data = client.get("/api/v1/search?q=school+transport&council=wigan").get_json()
    assert data["total"] == 2 and data["next"] is None
    first = data["results"][0]
    assert first["council"] == "wigan" and first["date"] == "2026-10-23"
    assert first["meeting_url"].startswith(
        "https://councildigest.example.org/councils/wigan/meetings/"
    )


def test_paging(client: FlaskClient, rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        wigan = enable(session, "wigan", rt.now())
        made = [
            add_meeting(session, wigan, on=DAY - timedelta(days=i), committee="Planning",
                        items=[Item(f"Bus lane scheme {i}")])
            for i in range(25)
        ]  # fmt: skip
        search.index_meetings(session, made)
    first = client.get("/api/v1/search?q=bus+lane").get_json()
    assert first["total"] == 25 and len(first["results"]) == search.PAGE_SIZE
    assert first["next"].endswith("page=2")
    second = client.get("/api/v1/search?q=bus+lane&page=2").get_json()
    assert len(second["results"]) == 5 and second["next"] is None
    seen = [r["title"] for r in first["results"] + second["results"]]
    assert seen == [f"Bus lane scheme {i}" for i in range(25)]


def test_collector_keeps_the_index_current(rt: Runtime, fake_moderngov: FakeModernGov) -> None:
    fake_moderngov.add_site(
        "democracy.manchester.gov.uk", FakeSite(meetings=manchester_like(rt.now().date()))
    )
    point_at_fake(rt, "manchester", fake_moderngov, "democracy.manchester.gov.uk")
    assert collect(rt, "manchester").failed == []
    found = run(rt, "work programme")
    assert found.total >= 1
    with rt.read_sessions() as session:
        hit = [session.get(Meeting, h.meeting_id) for h in found.hits]
        assert "Audit Committee" in {m.committee for m in hit if m is not None}
    # Collecting again changes nothing, and leaves exactly one set of entries.
    before = run(rt, "work programme").total
    collect(rt, "manchester")
    assert run(rt, "work programme").total == before


def test_meetings_from_before_the_index_are_indexed_once(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        wigan = enable(session, "wigan", rt.now())
        add_meeting(session, wigan, on=DAY, items=[Item("Library opening hours")])
    assert run(rt, "library hours").total == 0
    with rt.sessions.begin() as session:
        assert search.index_missing(session) == 1
        assert search.index_missing(session) == 0
    assert titles(run(rt, "library hours")) == [("2026-11-02", "Library opening hours")]


def test_totals_with_and_without_filters_past_the_last_page(rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        wigan = enable(session, "wigan", rt.now())
        made = [
            add_meeting(session, wigan, on=DAY - timedelta(days=i), committee="Planning",
                        items=[Item(f"Tree preservation order {i}")])
            for i in range(23)
        ]  # fmt: skip
        search.index_meetings(session, made)
        council_id = wigan.id
    for filters in ({}, {"council_id": council_id}):
        assert run(rt, "tree preservation", **filters).total == 23
        second = run(rt, "tree preservation", page=2, **filters)
        assert (second.total, len(second.hits), second.has_next) == (23, 3, False)
        beyond = run(rt, "tree preservation", page=3, **filters)
        assert (beyond.total, beyond.hits) == (23, [])


def test_topic_filter(rt: Runtime) -> None:
    arrange(rt)
    with rt.sessions.begin() as session:
        wigan = session.scalars(sa.select(Council).where(Council.slug == "wigan")).one()
        library = add_meeting(
            session, wigan, on=DAY - timedelta(days=5), committee="Cabinet",
            items=[Item("Library opening hours",
                        agenda="Longer library hours beside the school transport hub.")],
        )  # fmt: skip
        search.index_meetings(session, [library])
    everything = titles(run(rt, "school transport"))
    assert ("2026-10-28", "Library opening hours") in everything
    # The library item mentions school transport but is not about it, and the other way.
    assert titles(run(rt, "school transport", topic="transport")) == SCHOOL_TRANSPORT
    assert titles(run(rt, "school transport", topic="culture-libraries")) == [
        ("2026-10-28", "Library opening hours")
    ]
    # A private item's topics come from its public title.
    assert titles(run(rt, "school transport", topic="workforce-contracts")) == SCHOOL_TRANSPORT[:1]
    # The meeting itself carries the topics of its items.
    cabinet = run(rt, "cabinet", topic="culture-libraries")
    assert [(h.kind, h.start_date.isoformat()) for h in cabinet.hits] == [("meeting", "2026-10-28")]
    assert titles(run(rt, "school transport", topic="pensions")) == []
    with pytest.raises(search.BadSearch, match="no topic"):
        run(rt, "school transport", topic="no-such-topic")


def test_document_text_is_searched_with_a_short_snippet(rt: Runtime) -> None:
    long_text = (
        "Officers reviewed the network. " * 3000
        + ("The zebra crossing on Library Road will be upgraded to a signalled crossing. ")
        + "Further routine text follows. " * 1000
    )
    with rt.sessions.begin() as session:
        wigan = enable(session, "wigan", rt.now())
        meeting = add_meeting(
            session, wigan, on=DAY, committee="Highways Committee",
            items=[Item("Road safety schemes", minutes="RESOLVED: the schemes are approved.",
                        documents=[("Road safety report", "https://example.org/r.pdf")]),
                   Item("Exempt: land sale", restricted=True,
                        documents=[("Land valuation", "https://example.org/v.pdf")])],
            documents=[("Printed minutes", "https://example.org/m.pdf")],
        )  # fmt: skip
        docs = {d.title: d for d in session.scalars(sa.select(Document))}
        docs["Road safety report"].text = long_text
        docs["Land valuation"].text = "Zebra crossing land valued at one million pounds."
        docs["Printed minutes"].text = "Minutes: the zebra crossing scheme was approved."
        # The printed minutes were shared out to the items: found there, not twice.
        items = {i.title: i for i in session.scalars(sa.select(AgendaItem))}
        items["Road safety schemes"].minutes_document_id = docs["Printed minutes"].id
        items["Road safety schemes"].minutes_text = "Minutes: the zebra crossing was approved."
        items["Road safety schemes"].topics = ["transport"]
        search.index_meetings(session, [meeting])
    found = run(rt, "zebra crossings")
    assert [(h.kind, h.title) for h in found.hits] == [
        ("item", "Road safety schemes"),
        ("document", "Road safety report"),
    ]
    snippet = found.hits[1].snippet
    assert "<mark>zebra</mark> <mark>crossing</mark> on Library Road" in snippet
    assert len(snippet) < search.SNIPPET_CHARS + 100
    assert titles(run(rt, "land valued")) == []
    # Topics of a document are those of its item.
    assert run(rt, "zebra", topic="transport").total == 2
    assert run(rt, "zebra", topic="housing").total == 0
