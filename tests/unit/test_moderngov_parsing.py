"""Parsing ModernGov answers: the real fixtures and the quirks of research/moderngov.md."""

from __future__ import annotations

from datetime import date, time

import pytest

from digest.collector.committees import CommitteeRule, InvalidCommitteeFilter, check_filter
from digest.collector.http_client import Fetched, Validator
from digest.collector.moderngov import (
    is_cancelled,
    meeting_url,
    meetings_url,
    parse_meeting,
    parse_meetings,
    public_meeting_url,
    status_label,
)
from digest.collector.safexml import BadResponse, clock_time, day
from tests.support.moderngov import fixture

BASE = "https://democracy.manchester.gov.uk"


def answer(body: bytes | str, content_type: str = "text/xml; charset=utf-8") -> Fetched:
    raw = body.encode() if isinstance(body, str) else body
    return Fetched("u", "u", 200, raw, content_type, Validator())


def meeting_with(items: str, extra: str = "") -> Fetched:
    return answer(
        '<?xml version="1.0" encoding="utf-8"?>\n<meeting><meetingid>9</meetingid>'
        f"<meetingdate>01/12/2026</meetingdate>{extra}<agendaitems>{items}</agendaitems></meeting>"
    )


def item(item_id: str, docs: str = "", **fields: str) -> str:
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    return f"<agendaitem><agendaitemid>{item_id}</agendaitemid>{inner}{docs}</agendaitem>"


def doc(url: str, title: str = "Report", restricted: str = "False") -> str:
    return (
        "<linkeddocuments><linkeddoc><attachmentid>1</attachmentid>"
        f"<title>{title}</title><url>{url}</url><isrestricted>{restricted}</isrestricted>"
        "<publicationdate>02/11/2026</publicationdate></linkeddoc></linkeddocuments>"
    )


def test_urls() -> None:
    assert meetings_url(BASE + "/", date(2026, 11, 4), date(2027, 1, 17)) == (
        f"{BASE}/mgWebService.asmx/GetMeetings?lCommitteeId=0"
        "&sFromDate=04%2F11%2F2026&sToDate=17%2F01%2F2027"
    )
    assert meeting_url(BASE, "4967") == f"{BASE}/mgWebService.asmx/GetMeeting?lMeetingId=4967"
    assert public_meeting_url(BASE, "144", "4967") == (
        f"{BASE}/ieListDocuments.aspx?CId=144&MId=4967"
    )
    # Installs under a sub-path keep it; a trailing slash never doubles.
    assert meeting_url("https://x.gov.uk/moderngov/", "1") == (
        "https://x.gov.uk/moderngov/mgWebService.asmx/GetMeeting?lMeetingId=1"
    )


def test_the_real_meeting_list() -> None:
    listing = parse_meetings(answer(fixture("getmeetings_manchester_audit_trimmed.xml")))
    assert [(c.source_id, c.title) for c in listing.committees] == [("144", "Audit Committee")]
    first, second = listing.meetings
    assert (first.source_id, first.date, first.time_text) == ("4966", date(2026, 1, 13), "10.00 am")
    assert first.is_cancelled and not second.is_cancelled
    assert second.committee_title == "Audit Committee" and not second.is_webcast
    assert first.signature() != second.signature()


def test_the_flat_shape_with_compound_status() -> None:
    listing = parse_meetings(
        answer(
            "<getmeetingsbydate><meetingscount>1</meetingscount><meetings><meeting>"
            "<meetingid>17355</meetingid><meetingdate>04/03/2026</meetingdate>"
            "<meetingstatus>Confirmed; Budget Council</meetingstatus>"
            "<committeeid>142</committeeid><committeetitle>Council</committeetitle>"
            "<meetingtime>6.30 pm</meetingtime></meeting></meetings></getmeetingsbydate>"
        )
    )
    (meeting,) = listing.meetings
    assert (meeting.source_id, meeting.committee_id, meeting.committee_title) == (
        "17355",
        "142",
        "Council",
    )
    assert meeting.date == date(2026, 3, 4) and not meeting.is_cancelled
    assert status_label(meeting.status_text) == "Budget Council"


def test_counts_only_is_an_empty_list() -> None:
    listing = parse_meetings(answer("<getmeetings><meetingscount> 0</meetingscount></getmeetings>"))
    assert listing.meetings == () and listing.committees == ()


def test_meetings_without_id_or_readable_date_are_skipped() -> None:
    listing = parse_meetings(
        answer(
            "<getmeetings><committee><committeeid>1</committeeid><committeetitle>C"
            "</committeetitle><committeemeetings>"
            "<meeting><meetingid>1</meetingid><meetingdate>2026-01-13</meetingdate></meeting>"
            "<meeting><meetingid>\n  </meetingid><meetingdate>13/01/2026</meetingdate></meeting>"
            "<meeting><meetingid>3</meetingid><meetingdate>13/01/2026</meetingdate></meeting>"
            "</committeemeetings></committee></getmeetings>"
        )
    )
    assert [m.source_id for m in listing.meetings] == ["3"]


def test_the_real_meeting_with_minutes() -> None:
    detail = parse_meeting(answer(fixture("getmeeting_manchester_with_minutes_trimmed.xml")), BASE)
    assert detail.source_id == "4967" and detail.date == date(2026, 2, 10)
    assert detail.venue == "Council Antechamber, Level 2, Town Hall Extension"  # no empty room
    assert detail.end_time_text == "2.00 pm"
    assert detail.agenda_published and detail.minutes_published
    assert [(i.number, i.title) for i in detail.items] == [
        ("1.", "Minutes"),
        ("9.", "Work Programme"),
    ]
    assert detail.items[1].agenda_text == (
        "The report of the Governance and Scrutiny Support Unit, attached."
    )
    assert [d.url for d in detail.documents] == [
        f"{BASE}/mgConvert2PDF.aspx?ID=60860",
        f"{BASE}/mgConvert2PDF.aspx?ID=60909",
    ]
    assert detail.documents[0].published_on == date(2026, 2, 2)
    assert detail.documents[0].item_source_id == "18831"
    (person,) = detail.attendees
    assert (person.member_source_id, person.name, person.role, person.party) == (
        "192",
        "Councillor Basil Curley",
        "Committee Member",
        "LAB",
    )


def test_the_real_cancelled_meeting() -> None:
    detail = parse_meeting(answer(fixture("getmeeting_manchester_cancelled_trimmed.xml")), BASE)
    assert is_cancelled(detail.status_text)
    assert detail.items == () and not detail.agenda_published and not detail.minutes_published


def test_double_escaped_text_is_decoded_once_more() -> None:
    detail = parse_meeting(
        meeting_with(
            item("1", agendaitemtitle="Budget &amp;amp; Council Tax")
            + item("2", agendaitemtitle="Chair&amp;#39;s Communications")
            + item(
                "3",
                agendaitemtitle="Plans &lt;2027&gt;",
                agendatext="&amp;lt;p&amp;gt;Hello&amp;lt;/p&amp;gt;",
            )
        ),
        BASE,
    )
    assert [i.title for i in detail.items] == [
        "Budget & Council Tax",
        "Chair's Communications",
        "Plans <2027>",
    ]
    assert detail.items[2].agenda_text == "Hello"


def test_unescaped_html_inside_agenda_text_is_read_too() -> None:
    detail = parse_meeting(
        meeting_with(item("1", agendaitemtitle="T", agendatext="<div><p>One</p><p>Two</p></div>")),
        BASE,
    )
    assert detail.items[0].agenda_text == "One\n\nTwo"


def test_whitespace_only_values_are_empty() -> None:
    detail = parse_meeting(
        meeting_with(
            item(
                "1", agendaitemtitle="\n   ", fulldisplaynumberformat="\n  ", agendaitemnumber="4"
            ),
            extra="<meetinglocation>\n   </meetinglocation><meetingroom><roomtitle>Room 2"
            "</roomtitle></meetingroom><meetingtime> </meetingtime>",
        ),
        BASE,
    )
    assert detail.venue == "Room 2" and detail.time_text == ""
    assert detail.items[0].title == "(untitled item)" and detail.items[0].number == "4"


def test_restricted_items_and_documents() -> None:
    detail = parse_meeting(
        meeting_with(
            item(
                "1",
                agendaitemtitle="Exempt: Land Disposal",
                agendatext="&lt;p&gt;Confidential terms&lt;/p&gt;",
                isrestricted="True",
                docs=doc("mgConvert2PDF.aspx?ID=5", "Exempt appendix", restricted="True"),
            )
            + item("2", agendaitemtitle="Hidden", isdisplayallowed="False", agendatext="x")
        ),
        BASE,
    )
    first, second = detail.items
    assert first.is_restricted and first.title == "Exempt: Land Disposal"
    assert first.agenda_text == "" and second.is_restricted and second.agenda_text == ""
    (exempt,) = detail.documents
    assert exempt.is_restricted and exempt.url == f"{BASE}/mgConvert2PDF.aspx?ID=5"
    assert not detail.agenda_published  # only restricted items: nothing public yet


def test_documents_are_deduplicated_by_url_and_made_absolute() -> None:
    detail = parse_meeting(
        meeting_with(
            item("1", agendaitemtitle="A", docs=doc("https://x.test/pack.pdf", "Reports pack"))
            + item("2", agendaitemtitle="B", docs=doc("https://x.test/pack.pdf", "Pack again"))
            + item("3", agendaitemtitle="C", docs=doc("javascript:alert(1)"))
            + item("4", agendaitemtitle="D", docs=doc("documents/s5/a.pdf?x=1&amp;copy=2"))
        ),
        BASE,
    )
    assert [(d.title, d.url, d.item_source_id) for d in detail.documents] == [
        ("Reports pack", "https://x.test/pack.pdf", "1"),
        ("Report", f"{BASE}/documents/s5/a.pdf?x=1&copy=2", "4"),
    ]


def test_bad_answers_say_what_came_back() -> None:
    with pytest.raises(BadResponse, match=r'HTML page \("Error"\)'):
        parse_meetings(answer(fixture("error_leeds_sharepoint_error_page_2016.html")))
    with pytest.raises(BadResponse, match="HTML page instead"):
        parse_meetings(answer(fixture("error_denbighshire_http_redirect_script_2016.html")))
    with pytest.raises(BadResponse, match="root <meeting>"):
        parse_meetings(answer(fixture("getmeeting_manchester_cancelled_trimmed.xml")))
    with pytest.raises(BadResponse, match="no <meetingid>"):
        parse_meeting(answer("<meeting><meetingid> </meetingid></meeting>"), BASE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("13/01/2026", date(2026, 1, 13)),
        ("1/2/2026", date(2026, 2, 1)),
        ("31/02/2026", None),
        ("2026-01-13", None),
        ("01/13/2026", None),  # never month-first
        ("", None),
    ],
)
def test_dates_are_day_first(text: str, expected: date | None) -> None:
    assert day(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.00 am", time(10, 0)),
        ("2.00 pm", time(14, 0)),
        ("12.30 pm", time(12, 30)),
        ("12.15 am", time(0, 15)),
        ("13:30", time(13, 30)),
        ("6:30pm", time(18, 30)),
        ("6.30 p.m.", time(18, 30)),
        ("10am", time(10, 0)),
        ("12 noon", time(12, 0)),
        ("10", None),
        ("TBC", None),
        ("25:00", None),
        ("13.00 pm", None),
    ],
)
def test_meeting_times(text: str, expected: time | None) -> None:
    assert clock_time(text) == expected


@pytest.mark.parametrize(
    ("status", "cancelled", "label"),
    [
        ("Cancelled", True, ""),
        ("Confirmed", False, ""),
        ("Confirmed; Budget Council", False, "Budget Council"),
        ("Cancelled; Budget Scrutiny", True, "Budget Scrutiny"),
        ("", False, ""),
    ],
)
def test_statuses(status: str, cancelled: bool, label: str) -> None:
    assert is_cancelled(status) is cancelled and status_label(status) == label


def test_committee_rules_for_shared_installs() -> None:
    adur = CommitteeRule(own_names=("Adur",), partner_names=("Worthing",))
    assert adur.keeps("Adur Planning Committee")
    assert adur.keeps("Adur & Worthing Joint Strategic Committee")
    assert adur.keeps("Licensing Committee")
    assert not adur.keeps("Worthing Planning Committee")
    assert not adur.keeps("WORTHING Licensing Sub-Committee")
    assert adur.keeps("Worthingham Committee")  # whole words only
    explicit = CommitteeRule(pattern=check_filter("^Joint "))
    assert explicit.keeps("joint strategic committee") and not explicit.keeps("Adur Cabinet")
    assert CommitteeRule().keeps("Anything")
    with pytest.raises(InvalidCommitteeFilter, match="not a valid regular expression"):
        check_filter("(unclosed")


# --- text decoding (RFC 7303) and double-escaped markup ------------------------------


def venue_of(body: bytes, content_type: str) -> str:
    return parse_meeting(answer(body, content_type), BASE).venue


def _meeting(declaration: str, venue: str) -> str:
    return (
        f"{declaration}<meeting><meetingid>9</meetingid><meetingdate>01/12/2026</meetingdate>"
        f"<meetinglocation>{venue}</meetinglocation></meeting>"
    )


def test_the_http_charset_wins_over_the_xml_declaration() -> None:
    body = _meeting('<?xml version="1.0" encoding="iso-8859-1"?>', "Salle Café – Room 1")
    assert venue_of(body.encode("utf-8"), "text/xml; charset=utf-8") == "Salle Café – Room 1"


def test_without_an_http_charset_the_bom_then_the_declaration_decide() -> None:
    text = "Caf\u00e9 \u2018Room\u2019"
    latin = _meeting('<?xml version="1.0" encoding="windows-1252"?>', text).encode("cp1252")
    assert venue_of(latin, "text/xml") == text
    utf16 = _meeting('<?xml version="1.0" encoding="utf-16"?>', text).encode("utf-16")
    assert venue_of(utf16, "text/xml") == text
    # "ISO-8859-1" as servers use it: Word's curly quotes are Windows-1252 bytes.
    labelled = _meeting("", text).encode("cp1252")
    assert venue_of(labelled, "text/xml; charset=ISO-8859-1") == text


def test_windows_1252_bytes_in_a_utf8_document_are_repaired() -> None:
    # UTF-8 text with a curly apostrophe and en dash pasted from Word (0x92, 0x96).
    body = _meeting('<?xml version="1.0" encoding="utf-8"?>', "Council\x00s Chamber \x01 Café")
    raw = body.encode("utf-8").replace(b"\x00", b"\x92").replace(b"\x01", b"\x96")
    assert venue_of(raw, "text/xml; charset=utf-8") == "Council\u2019s Chamber \u2013 Café"


def test_double_escaped_markup_becomes_plain_text_in_titles_and_venues() -> None:
    listing = parse_meetings(
        answer(
            "<getmeetings><committee><committeeid>7</committeeid>"
            "<committeetitle>&amp;lt;p&amp;gt;Planning &amp;amp; Highways&amp;lt;/p&amp;gt;"
            "</committeetitle><meeting><meetingid>1</meetingid>"
            "<meetingdate>01/12/2026</meetingdate></meeting></committee></getmeetings>"
        )
    )
    assert listing.committees[0].title == "Planning & Highways"
    assert listing.meetings[0].committee_title == "Planning & Highways"
    venue = venue_of(
        _meeting("", "&lt;b&gt;Town Hall&lt;/b&gt;&lt;br/&gt;Room &lt; 5").encode(), "text/xml"
    )
    assert venue == "Town Hall Room < 5"


def test_a_duplicate_meeting_id_does_not_add_its_twins_committee() -> None:
    listing = parse_meetings(
        answer(
            "<getmeetings>"
            "<committee><committeeid>1</committeeid><committeetitle>Cabinet</committeetitle>"
            "<meeting><meetingid>5</meetingid><meetingdate>01/12/2026</meetingdate></meeting>"
            "</committee>"
            "<committee><committeeid>2</committeeid><committeetitle>Ghost</committeetitle>"
            "<meeting><meetingid>5</meetingid><meetingdate>01/12/2026</meetingdate></meeting>"
            "</committee></getmeetings>"
        )
    )
    assert [c.title for c in listing.committees] == ["Cabinet"]
    assert [(m.source_id, m.committee_title) for m in listing.meetings] == [("5", "Cabinet")]
