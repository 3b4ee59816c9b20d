"""'Asked to decide:' read from agenda text and from a report's Recommendations section."""

from __future__ import annotations

import pytest

from digest.htmltext import html_to_text
from digest.weekly.asks import extract_asked_to_decide

CASES = [
    (
        "agenda sentence: is recommended to",
        "<p>To receive the report of the Director of Finance.</p>"
        "<p>The Cabinet is recommended to approve the revised SEND transport policy.</p>",
        ["To approve the revised SEND transport policy."],
    ),
    (
        "agenda sentence over a numbered list",
        "<p>Members are asked to:</p><p>1. note the forecast overspend of £4.2m;</p>"
        "<p>2. agree the recovery plan.</p>",
        ["Note the forecast overspend of £4.2m.", "Agree the recovery plan."],
    ),
    (
        "report: Recommendations heading with a list, ended by the next heading",
        "<p>1. Purpose of the report</p><p>To set out the budget.</p>"
        "<p>2. Recommendations</p>"
        "<p>2.1 That the Committee approves the fees and charges for 2027/28.</p>"
        "<p>2.2 That the Committee notes the consultation responses.</p>"
        "<p>3. Reasons for the recommendations</p><p>The budget must balance.</p>",
        [
            "The Committee approves the fees and charges for 2027/28.",
            "The Committee notes the consultation responses.",
        ],
    ),
    (
        "report: RECOMMENDATION: inline",
        "<p>RECOMMENDATION: That the application be approved subject to conditions.</p>"
        "<p>Background</p><p>The site lies in the green belt.</p>",
        ["The application be approved subject to conditions."],
    ),
    (
        # Real agenda text: Highland Council, 15 May 2025, item 3 (highland.gov.uk/meetings/
        # meeting/5160/highland_council/attachment/84949).
        "Scottish agenda: The Council is asked to:- over a roman list",
        "<p>There is circulated Report No. HC/11/25 by the Chief Executive.</p>"
        "<p>The Council is asked to:-</p>"
        "<p>i. scrutinise the report and approve the progress of the Operational Delivery "
        "Plan;</p><p>ii. approve the reporting schedule for 2027/28 at Appendix 5 to the "
        "report;</p><p>iii. note that project reports will continue to be submitted to "
        "strategic committees for scrutiny; and</p>",
        [
            "Scrutinise the report and approve the progress of the Operational Delivery Plan.",
            "Approve the reporting schedule for 2027/28 at Appendix 5 to the report.",
            "Note that project reports will continue to be submitted to strategic committees "
            "for scrutiny.",
        ],
    ),
    (
        # Real agenda text: Kent, Environment & Transport Cabinet Committee, 28 Nov 2018.
        "a lead over something that is not a list",
        "<p>The Cabinet Committee is asked to note that the following dates have been "
        "reserved for its meetings in 2019/20:</p><p>Friday 24 May 2019</p>",
        ["To note that the following dates have been reserved for its meetings in 2019/20:"],
    ),
    (
        "report: RECOMMENDATION(S) over a lead and a lettered list, then numbered paragraphs",
        "<p>1. PURPOSE OF REPORT</p><p>1.1 To seek approval of the revised policy.</p>"
        "<p>2. RECOMMENDATION(S)</p><p>2.1 Cabinet is recommended to:</p>"
        "<p>(a) approve the revised SEND Home to School Transport Policy at Appendix 1;</p>"
        "<p>(b) delegate authority to the Director to make minor changes.</p>"
        "<p>3. REASON(S) FOR RECOMMENDATION(S)</p><p>3.1 The current policy dates from 2015.</p>",
        [
            "Approve the revised SEND Home to School Transport Policy at Appendix 1.",
            "Delegate authority to the Director to make minor changes.",
        ],
    ),
    (
        "agenda infinitive",
        "<p>To consider and approve the draft Local Plan for consultation.</p>",
        ["To consider and approve the draft Local Plan for consultation."],
    ),
]


@pytest.mark.parametrize(("name", "html", "expected"), CASES, ids=[c[0] for c in CASES])
def test_asks(name: str, html: str, expected: list[str]) -> None:
    assert extract_asked_to_decide(html_to_text(html)) == expected


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<p>Apologies for absence.</p>",
        "<p>The report is for information only.</p>",
        "<p>To receive any declarations of interest.</p>",
        "<p>Recommendations made by the panel last year were implemented.</p>",
    ],
)
def test_nothing_to_decide(html: str) -> None:
    assert extract_asked_to_decide(html_to_text(html) if html else html) == []
