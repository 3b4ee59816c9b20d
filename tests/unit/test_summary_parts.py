"""The small pure parts of summaries: glossary, papers, weeks, text, header line, times."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from digest.models import Document
from digest.web.feed_documents import parse_end_time
from digest.weekly.documents import papers
from digest.weekly.glossary import Glossary, glossary
from digest.weekly.render import header_line
from digest.weekly.text import description, shorten
from digest.weekly.weeks import InvalidWeek, IsoWeek, date_range_text

LONDON = ZoneInfo("Europe/London")
GLOSSARY = Path(__file__).parent.parent.parent / "digest" / "data" / "glossary.json"


def test_glossary_data_is_complete() -> None:
    data = json.loads(GLOSSARY.read_text())
    terms = data["terms"]
    assert len(terms) >= 40
    names = [t["term"].lower() for t in terms]
    assert len(names) == len(set(names))
    for term in terms:
        assert term["patterns"] and len(term["definition"]) > 40, term["term"]
        for pattern in term["patterns"]:
            re.compile(pattern)
    # The terms the issue names as confusing residents.
    for wanted in ("Section 47", "SEND", "Ofsted", "call-in", "scrutiny", "Part II",
                   "Section 106", "CIL", "key decision", "quorum", "portfolio holder"):  # fmt: skip
        assert wanted.lower() in names, wanted


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("A Section 47 enquiry was opened", "Section 47"),
        ("Provision for SEND pupils", "SEND"),
        ("The latest Ofsted inspection", "Ofsted"),
        ("The decision was subject to call-in", "call-in"),
        ("Overview and Scrutiny Committee", "scrutiny"),
        ("Items in Part II of the agenda", "Part II"),
        ("A S106 contribution of £2m", "Section 106"),
        ("CIL receipts", "CIL"),
        ("This is a key decision", "key decision"),
        ("The meeting was not quorate", "quorum"),
        ("The Cabinet Member for Housing", "portfolio holder"),
        ("Tree Preservation Order 12", "TPO"),
    ],
)
def test_each_named_term_is_recognised(text: str, term: str) -> None:
    notes = glossary().footnoter()
    notes.annotate(text)
    assert term in [n.term for n in notes.notes]


def test_footnotes_number_first_use_only_and_respect_case() -> None:
    notes = glossary().footnoter()
    first = notes.annotate("Cabinet approved the SEND strategy.")
    second = notes.annotate("We will send the SEND report to the Cabinet.")
    assert str(first) == "Cabinet approved the SEND strategy."
    assert [(s.text, s.note) for s in first.segments] == [
        ("Cabinet", 1),
        (" approved the SEND", 2),
        (" strategy.", None),
    ]
    # "send" the verb is not SEND, and terms already explained get no second note.
    assert all(s.note is None for s in second.segments)
    assert [n.term for n in notes.notes] == ["cabinet", "SEND"]
    assert not notes.annotate("")


def test_terms_match_whole_words_only() -> None:
    small = Glossary.from_data(
        {"terms": [{"term": "CIL", "patterns": ["CIL"], "case_sensitive": True, "definition": "d"}]}
    )
    assert small.find("COUNCIL CILIA CIL-based") == ()
    assert [m[:2] for m in small.find("The CIL rate")] == [(4, 7)]


def doc(title: str, url: str, restricted: bool = False) -> Document:
    return Document(title=title, url=url, is_restricted=restricted)


def test_papers_pack_first_deduplicated_public_only() -> None:
    found = papers(
        [
            doc("Appendix 1 - Budget tables", "https://c.gov.uk/mgConvert2PDF.aspx?ID=3"),
            doc("Agenda frontsheet", "https://c.gov.uk/documents/g1/Agenda.pdf"),
            doc("Public reports pack 12th-Nov-2026 18.30 Executive", "https://c.gov.uk/p.pdf"),
            doc("Appendix 1 - Budget tables", "https://c.gov.uk/mgConvert2PDF.aspx?ID=9"),
            doc("Budget report", "http://c.gov.uk/mgConvert2PDF.aspx?ID=3"),
            doc("Exempt appendix", "https://c.gov.uk/x.pdf", restricted=True),
            doc("Printed minutes", "https://c.gov.uk/m.pdf"),
        ]
    )
    assert [p.title for p in found] == [
        "Public reports pack 12th-Nov-2026 18.30 Executive",
        "Agenda frontsheet",
        "Printed minutes",
        "Appendix 1 - Budget tables",
    ]
    assert found[0].is_pack and not found[1].is_pack


def test_iso_weeks() -> None:
    week = IsoWeek.parse("2026-W47")
    assert (week.monday, week.sunday) == (date(2026, 11, 16), date(2026, 11, 22))
    assert week.previous().label == "2026-W46"
    assert IsoWeek.parse("2027-W01").previous().label == "2026-W53"
    assert IsoWeek.parse("2026-W53").next().label == "2027-W01"
    # Sunday 23:30 in London is still that week, even when UTC says Monday.
    assert IsoWeek.of(datetime(2026, 6, 21, 23, 30, tzinfo=LONDON), LONDON).label == "2026-W25"
    assert week.starts_at(LONDON) == datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    assert IsoWeek.parse("2026-W27").starts_at(LONDON) == datetime(2026, 6, 28, 23, 0, tzinfo=UTC)
    for bad in ("2026-47", "2026-W54", "2025-W53", "W47", ""):
        with pytest.raises(InvalidWeek):
            IsoWeek.parse(bad)
    assert date_range_text(date(2026, 11, 16), date(2026, 11, 22)) == "16 – 22 November 2026"
    assert date_range_text(date(2026, 11, 30), date(2026, 12, 6)) == "30 November – 6 December 2026"
    assert (
        date_range_text(date(2026, 12, 28), date(2027, 1, 3)) == "28 December 2026 – 3 January 2027"
    )


def test_shorten_and_description() -> None:
    assert shorten("Short.", 50) == "Short."
    long = "The report sets out the budget. " + "It has many words in it " * 20
    assert shorten(long, 60) == "The report sets out the budget."
    cut = shorten("word " * 40, 30)
    assert cut.endswith("…") and len(cut) <= 30
    assert description("Work Programme", "Work programme", 100) == ""
    assert description("First para.\n\nSecond.", "Title", 100) == "First para."


def test_header_line() -> None:
    counts = {"reported": 3, "decisions": 7, "cancelled": 1, "minutes": 2, "upcoming": 1}
    assert header_line(counts) == (
        "Last week: 3 meetings, 7 decisions · 1 cancelled · new minutes for 2 earlier "
        "meetings · This week: 1 meeting"
    )
    quiet = dict.fromkeys(counts, 0)
    assert header_line(quiet) == "Last week: no meetings · This week: no meetings"


@pytest.mark.parametrize(
    ("text", "hour", "minute"),
    [("2.00 pm", 14, 0), ("12.30 pm", 12, 30), ("9 am", 9, 0), ("17:45", 17, 45), ("12 am", 0, 0)],
)
def test_end_times(text: str, hour: int, minute: int) -> None:
    end = parse_end_time(text, date(2026, 1, 13), LONDON)
    assert end == datetime(2026, 1, 13, hour, minute, tzinfo=LONDON)


@pytest.mark.parametrize("text", ["", "late", "25:00", "13 pm x"])
def test_end_times_not_understood(text: str) -> None:
    assert parse_end_time(text, date(2026, 1, 13), LONDON) is None
