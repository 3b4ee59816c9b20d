"""Decisions read from minutes: the real Manchester fixtures, and the shapes UK councils
publish (as ModernGov's Word HTML, converted by html_to_text exactly as the collector
stores it)."""

from __future__ import annotations

from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from digest.htmltext import html_to_text
from digest.weekly.bullets import tidy
from digest.weekly.procedural import Procedural, is_routine, procedural_kind
from digest.weekly.resolutions import extract_resolutions

FIXTURES = Path(__file__).parent.parent / "fixtures" / "moderngov"


def minutes_of(fixture: str) -> dict[str, str]:
    root = SafeET.parse(FIXTURES / fixture).getroot()
    return {
        (item.findtext("agendaitemtitle") or ""): html_to_text(
            item.findtext("minutesnonemptyhtmlbody")
        )
        for item in root.findall("agendaitems/agendaitem")
    }


def test_real_manchester_minutes() -> None:
    minutes = minutes_of("getmeeting_manchester_with_minutes_trimmed.xml")
    # Manchester states decisions as bare infinitives, without RESOLVED.
    assert extract_resolutions(minutes["Minutes"]) == [
        "To approve the minutes of the meeting held on 25 November 2025 as a correct record."
    ]
    # Only a narrative of what was considered: no decision to report.
    assert extract_resolutions(minutes["Work Programme"]) == []
    # Approving the last minutes is routine business, folded into one line.
    assert procedural_kind("Minutes") is Procedural.MINUTES
    assert is_routine(extract_resolutions(minutes["Minutes"]))


def test_a_cancelled_meeting_has_no_minutes() -> None:
    assert minutes_of("getmeeting_manchester_cancelled_trimmed.xml") == {}


# (name, minutes as councils publish them, expected bullets)
SHAPES = [
    (
        "resolved dash, after a narrative (Wigan, Bolton)",
        "<p class=MsoNormal>The Committee considered a report of the Director of Finance.</p>"
        "<p class=MsoNormal><b>RESOLVED</b> – That the report be noted.</p>",
        ["The report be noted."],
    ),
    (
        "RESOLVED: over a numbered list in Word paragraphs (Leeds)",
        "<p><b>RESOLVED:</b></p>"
        '<p class=MsoListParagraph style="mso-list:l0 level1 lfo1"><![if !supportLists]>'
        '<span style="mso-list:Ignore">(1)<span>&nbsp;&nbsp;</span></span><![endif]>'
        "That the revenue budget for 2026/27 be approved;</p>"
        '<p class=MsoListParagraph style="mso-list:l0 level1 lfo1"><![if !supportLists]>'
        '<span style="mso-list:Ignore">(2)<span>&nbsp;&nbsp;</span></span><![endif]>'
        "That the Director of Finance be authorised to proceed; and</p>"
        '<p class=MsoListParagraph style="mso-list:l0 level1 lfo1"><![if !supportLists]>'
        '<span style="mso-list:Ignore">(3)<span>&nbsp;&nbsp;</span></span><![endif]>'
        "That progress be reported to the March meeting.</p>",
        [
            "The revenue budget for 2026/27 be approved.",
            "The Director of Finance be authorised to proceed.",
            "Progress be reported to the March meeting.",
        ],
    ),
    (
        "resolved that the Cabinet: over an HTML ordered list (Birmingham style)",
        "<p>RESOLVED that the Cabinet:</p>"
        "<ol><li>approves the draft Local Plan for consultation;</li>"
        "<li>delegates authority to the Director of Place to make minor changes.</li></ol>",
        [
            "Approves the draft Local Plan for consultation.",
            "Delegates authority to the Director of Place to make minor changes.",
        ],
    ),
    (
        "Resolved: in title case with a sentence (Kent)",
        "<p>Members asked about the timetable.</p><p>Resolved: The committee agreed to defer "
        "the item to its next meeting.</p>",
        ["The committee agreed to defer the item to its next meeting."],
    ),
    (
        "the committee resolved to (planning committees)",
        "<p>The officer presented the application and a late representation was reported.</p>"
        "<p>The Committee resolved to approve the application subject to the conditions set "
        "out in the report and a Section 106 agreement.</p>",
        [
            "To approve the application subject to the conditions set out in the report and "
            "a Section 106 agreement."
        ],
    ),
    (
        "moved, seconded and RESOLVED with a vote (full council)",
        "<p>It was moved by Councillor Ahmed, seconded by Councillor Jones and RESOLVED "
        "(unanimously) that the motion be carried.</p>",
        ["The motion be carried (unanimous)."],
    ),
    (
        "minutes laid out as a table with item numbers (Camden)",
        "<table><tr><td>5.</td><td><p>The Panel considered the report.</p>"
        "<p>RESOLVED that the fees and charges for 2026/27 be approved.</p></td></tr></table>",
        ["The fees and charges for 2026/27 be approved."],
    ),
    (
        "Decision heading over a paragraph (Manchester executive)",
        "<p><b>Decision</b></p><p>To approve the Housing Strategy 2026-2031.</p>"
        "<p>The Chair thanked officers for their work.</p>",
        ["To approve the Housing Strategy 2026-2031."],
    ),
    (
        "DECISION: on planning applications",
        "<p><b>DECISION:</b> Planning permission GRANTED subject to conditions.</p>",
        ["Planning permission GRANTED subject to conditions."],
    ),
    (
        "AGREED instead of RESOLVED (Scottish and Welsh councils)",
        "<p>AGREED that the item be continued to the next meeting of the Board.</p>",
        ["The item be continued to the next meeting of the Board."],
    ),
    (
        "several decisions inline in one paragraph",
        "<p>RESOLVED – (1) that the report be noted; (2) that a further report be brought to "
        "the March meeting.</p>",
        ["The report be noted.", "A further report be brought to the March meeting."],
    ),
    (
        "bulleted decisions",
        "<p>RESOLVED</p><ul><li>to note the update on SEND transport;</li>"
        "<li>to ask officers to write to the Secretary of State.</li></ul>",
        [
            "To note the update on SEND transport.",
            "To ask officers to write to the Secretary of State.",
        ],
    ),
    (
        "recommendation to full council with a lettered list",
        "<p>RESOLVED to recommend to Council:</p>"
        "<p>(a) that the council tax for 2026/27 be set at £1,900.12 for Band D;</p>"
        "<p>(b) the capital programme be approved.</p>",
        [
            "To recommend to Council:",
            "The council tax for 2026/27 be set at £1,900.12 for Band D.",
            "The capital programme be approved.",
        ],
    ),
    (
        "RECOMMENDED keeps its keyword",
        "<p>RECOMMENDED to Council that the revised constitution be adopted.</p>",
        ["Recommended to Council that the revised constitution be adopted."],
    ),
    (
        "a recorded vote",
        "<p>RESOLVED by 6 votes to 3 that the application be refused.</p>",
        ["The application be refused (by 6 votes to 3)."],
    ),
    (
        "two resolutions in one item, with the next minute numbered after them",
        "<p>RESOLVED that the report be noted.</p><p>The meeting adjourned at 8pm.</p>"
        "<p>FURTHER RESOLVED that the Chair write to the Minister.</p>"
        "<p>12. Questions from the public were taken.</p>",
        ["The report be noted.", "The Chair write to the Minister."],
    ),
    (
        "RESOLVED THAT on a line of its own, the decision in the next paragraph",
        "<p><b>RESOLVED THAT</b></p><p>the revised SEND transport policy be approved.</p>",
        ["The revised SEND transport policy be approved."],
    ),
    (
        "It was RESOLVED inside a sentence",
        "<p>Following a short debate it was RESOLVED that the forecast overspend of £4.2m be "
        "noted.</p>",
        ["The forecast overspend of £4.2m be noted."],
    ),
    (
        "The Committee RESOLVED: over a list",
        "<p>The Committee RESOLVED:</p><p>1. to note the report;</p>"
        "<p>2. to ask for a further report in March.</p>",
        ["To note the report.", "To ask for a further report in March."],
    ),
    (
        "Scottish: The Committee agreed:- over roman numerals",
        "<p>The Committee agreed:-</p><p>(i) to approve the minute as a correct record; and</p>"
        "<p>(ii) to note the update on the Low Emission Zone.</p>",
        [
            "To approve the minute as a correct record.",
            "To note the update on the Low Emission Zone.",
        ],
    ),
    (
        "Decisions made: heading",
        "<p>Decisions made:</p><p>a) The Cabinet approved the Housing Strategy.</p>"
        "<p>b) The Cabinet deferred the parking review.</p>",
        ["The Cabinet approved the Housing Strategy.", "The Cabinet deferred the parking review."],
    ),
    (
        "a lettered sub-list kept under its numbered lead",
        "<p>RESOLVED:</p><p>1. That the Cabinet approves:</p><p>(a) the revenue budget;</p>"
        "<p>(b) the capital programme; and</p><p>2. That the report be noted.</p>",
        [
            "The Cabinet approves: (a) the revenue budget; (b) the capital programme.",
            "The report be noted.",
        ],
    ),
    (
        "a vote: 8 for, 3 against",
        "<p>RESOLVED (carried, 8 for, 3 against) that the budget be approved.</p>",
        ["The budget be approved (carried, 8 for, 3 against)."],
    ),
    (
        "planning: approved subject to conditions, the conditions folded",
        "<p>RESOLVED – That the application be APPROVED subject to the following conditions:</p>"
        "<p>1. Standard time limit</p><p>2. Approved plans</p><p>3. Materials</p>",
        ["The application be APPROVED subject to 3 conditions."],
    ),
    (
        "passive: minutes approved as a correct record, no keyword",
        "<p>The minutes of the meeting held on 24 February were approved as a correct record.</p>",
        ["The minutes of the meeting held on 24 February were approved as a correct record."],
    ),
    (
        "passive: received, and Council accepted that",
        "<p>The minutes were received for information. The Leader suggested, and Council "
        "accepted, that item 18 be published.</p>",
        ["Item 18 be published."],
    ),
    (
        "Members agreed",
        "<p>Members agreed that the item be deferred to the next meeting.</p>",
        ["The item be deferred to the next meeting."],
    ),
    (
        "numbered that-clauses with no RESOLVED",
        "<p>(1) that the report be noted;</p><p>(2) that a further report come to March.</p>",
        ["The report be noted.", "A further report come to March."],
    ),
    (
        "lead-ins stripped",
        "<p>RESOLVED – That, for the reasons in the report, the scheme be approved.</p>",
        ["For the reasons in the report, the scheme be approved."],
    ),
    (
        "announcements and apologies: nothing decided",
        "<p>Apologies were received from Councillors Cooper and Still.</p>"
        "<p>It was noted that Members had visited the site.</p>"
        "<p>The following transparency statements were noted:-</p><p>· the Convener, item 10</p>",
        [],
    ),
    (
        "narrative only: nothing decided",
        "<p>Members discussed paragraphs (a) and (b) of the report and asked questions. The "
        "matter had been resolved by officers before the meeting.</p>",
        [],
    ),
]


@pytest.mark.parametrize(
    ("minutes", "expected"), [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES]
)
def test_minutes_shapes(minutes: str, expected: list[str]) -> None:
    assert extract_resolutions(html_to_text(minutes)) == expected


def test_duplicates_and_empty_input() -> None:
    assert extract_resolutions(None) == []
    assert extract_resolutions("   ") == []
    twice = "RESOLVED that the report be noted.\n\nRESOLVED – That the report be noted."
    assert extract_resolutions(twice) == ["The report be noted."]


def test_tidy() -> None:
    assert tidy("(b) that the budget be approved; and") == "The budget be approved."
    assert tidy("- to note the report") == "To note the report."
    assert tidy("   ") == ""


@pytest.mark.parametrize(
    ("title", "kind"),
    [
        ("Apologies for Absence", Procedural.APOLOGIES),
        ("Declarations of Interest", Procedural.INTERESTS),
        ("Disclosures of Pecuniary and Other Interests", Procedural.INTERESTS),
        ("Minutes of the previous meeting", Procedural.MINUTES),
        ("Confirmation of Minutes", Procedural.MINUTES),
        ("Urgent Business", Procedural.URGENT),
        ("Exclusion of the Press and Public", Procedural.EXCLUSION),
        ("Budget 2026/27", None),
        ("Housing Strategy", None),
    ],
)
def test_procedural_titles(title: str, kind: Procedural | None) -> None:
    assert procedural_kind(title) is kind


def test_routine_unless_something_was_decided() -> None:
    assert is_routine([])
    assert is_routine(["No declarations of interest were made."])
    assert is_routine(
        ["The minutes of the meeting held on 3 March be approved as a correct record."]
    )
    assert not is_routine(
        ["The minutes be approved subject to amending item 5 to record the vote as 5-4."]
    )
    assert not is_routine(["Councillor Smith be appointed Vice-Chair."])
