"""Document kinds, PDF text (real LibreOffice-made PDFs, parsed in this process), running
headers and footers, items found by their agenda titles, and the meeting page's links."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from digest.collector.http_client import Fetched, Validator
from digest.collector.meetingpage import parse_documents
from digest.documents import kinds, layout, pdftext
from tests.support.moderngov import FIXTURES, meeting_page_html
from tests.support.processes import wait_gone

PDFS = Path(__file__).resolve().parent.parent / "fixtures" / "pdf"


@pytest.mark.parametrize(
    ("title", "url", "linked", "kind"),
    [
        # ModernGov's generated files (research/moderngov.md §2), as the meeting page names them.
        ("Public reports pack 04th-Feb-2026 18.30 Cabinet", "", False, "reports_pack"),
        (
            "Reports pack",
            "documents/g5001/Public reports pack 04th-Feb-2026.pdf",
            False,
            "reports_pack",
        ),
        ("Agenda frontsheet 04th-Feb-2026 18.30 Cabinet", "", False, "agenda"),
        ("Agenda", "", False, "agenda"),
        ("Printed minutes 04th-Feb-2026 18.30 Cabinet", "", False, "minutes"),
        ("Minutes", "documents/g5001/Printed minutes.pdf", False, "minutes"),
        ("Printed decisions 04th-Feb-2026 18.30 Cabinet", "", False, "decision_notice"),
        ("Record of Decisions", "", False, "decision_notice"),
        ("Decision Notice - Executive", "", False, "decision_notice"),
        ("Supplementary agenda 1", "", False, "supplementary"),
        ("Additional papers", "", False, "supplementary"),
        # Linked to an agenda item: that item's report, even when it is an earlier
        # meeting's minutes (the Manchester fixture's first item).
        (
            "6 - CHAIR APPROVED  Minutes Audit Committee 25 Nov 2025",
            "mgConvert2PDF.aspx?ID=60860",
            True,
            "report",
        ),
        ("Minutes", "mgConvert2PDF.aspx?ID=60860", True, "report"),
        ("DRAFT WP  FEBRUARY 2026", "mgConvert2PDF.aspx?ID=60909", True, "report"),
        ("Appendix 1 - Equality Impact Assessment", "", True, "report"),
        ("Webcast", "", False, "other"),
    ],
)
def test_kinds_from_title_and_address(title: str, url: str, linked: bool, kind: str) -> None:
    assert kinds.classify(title, url, linked_to_item=linked) == kind


def test_running_headers_footers_and_page_numbers_are_removed() -> None:
    pages = [
        "Cabinet - 12 November 2026\n1. Apologies\nNone.\n2. Budget\nRESOLVED: That Cabinet:\n"
        "1. notes the overspend;\nMinute Book 2026/27 - 411\nPage 1 of 3",
        "Cabinet - 12 November 2026\n2. approves the variations;\n3. notes the reserves.\n"
        "Minute Book 2026/27 - 412\nPage 2 of 3",
        "Cabinet - 12 November 2026\n3. Close\nThe meeting closed at 7.42 pm\n- 3 -",
    ]
    text = layout.clean_pages(pages)
    assert text == (
        "1. Apologies\nNone.\n2. Budget\nRESOLVED: That Cabinet:\n1. notes the overspend;\n"
        "2. approves the variations;\n3. notes the reserves.\n3. Close"
    )


def test_items_are_found_by_their_agenda_titles() -> None:
    text = (
        "Present: Councillors A and B\n"
        "52. Apologies\nApologies were received from Councillor C.\n"
        "53 Local Plan Review and\nHousing Delivery Test (pages 5 - 12)\n"
        "RESOLVED: That the plan be approved.\n"
        "54. Budget Monitoring\nThe report was noted.\n"
    )
    items = [
        layout.ItemHeading("a", "1", "Apologies for absence"),
        layout.ItemHeading("b", "2", "Local Plan Review and Housing Delivery Test"),
        layout.ItemHeading("c", "3", "Not in the minutes at all"),
        layout.ItemHeading("d", "4", "Budget Monitoring"),
    ]
    assert layout.split_items(text, items) == {
        "a": "Apologies were received from Councillor C.",
        "b": "RESOLVED: That the plan be approved.",
        "d": "The report was noted.",
    }


def test_text_from_a_libreoffice_pdf_with_columns_and_a_list_over_a_page_break() -> None:
    result = pdftext.extract((PDFS / "printed_minutes_cabinet.pdf").read_bytes())
    assert len(result.pages) == 3 and result.image_pages == 0
    text = layout.clean_pages(result.pages)
    assert "Page 1 of 3" not in text and "Wychford District Council: Cabinet" not in text
    flat = " ".join(text.split())
    # The two-column section reads column by column.
    assert "which Cabinet warmly endorsed. Members noted that the review had heard" in flat
    assert "3. approves the transfer of £350,000 from the Transformation Reserve to fund" in flat
    assert "fund the temporary accommodation pressures; 4. notes the position" in flat


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("encrypted_minutes.pdf", "encrypted PDF: it needs a password to open"),
        ("scanned_decisions.pdf", "no text layer: a scanned image; we cannot read it"),
        ("truncated_minutes.pdf", "truncated PDF: the file ends before its end marker"),
    ],
)
def test_unreadable_pdfs_say_why(name: str, problem: str) -> None:
    data = (PDFS / name).read_bytes()
    with pytest.raises(pdftext.PdfProblem, match=problem.replace("(", r"\(")):
        _read(data)


def _read(data: bytes) -> pdftext.PdfText:
    pdftext.check_bytes(data)
    return pdftext.extract(data)


def test_what_is_not_a_pdf_is_refused_before_parsing() -> None:
    page = (FIXTURES / "error_leeds_sharepoint_error_page_2016.html").read_bytes()
    with pytest.raises(pdftext.PdfProblem, match="web page"):
        pdftext.check_bytes(page, "application/pdf")
    with pytest.raises(pdftext.PdfProblem, match="empty"):
        pdftext.check_bytes(b"  ")
    with pytest.raises(pdftext.PdfProblem, match="does not start like one"):
        pdftext.check_bytes(b"PK\x03\x04 a zip file")


def test_the_child_process_reads_and_reports() -> None:
    good = pdftext.extract_isolated((PDFS / "decision_notice_executive.pdf").read_bytes())
    assert "Car Parking Charges" in good.text
    with pytest.raises(pdftext.PdfProblem, match="encrypted"):
        pdftext.extract_isolated((PDFS / "encrypted_minutes.pdf").read_bytes())
    with pytest.raises(pdftext.PdfProblem, match="more than the 1 we read"):
        pdftext.extract_isolated((PDFS / "printed_minutes_cabinet.pdf").read_bytes(), max_pages=1)


def test_one_reading_child_reads_pdf_after_pdf_and_is_replaced_when_it_dies() -> None:
    minutes = (PDFS / "printed_minutes_cabinet.pdf").read_bytes()
    notice = (PDFS / "decision_notice_executive.pdf").read_bytes()
    reader = pdftext.Reader()
    try:
        first = reader.read(minutes, timeout=30)
        child = reader.pid
        assert "forecast overspend" in first.text
        with pytest.raises(pdftext.PdfProblem, match="encrypted"):
            reader.read((PDFS / "encrypted_minutes.pdf").read_bytes(), timeout=30)
        assert "Car Parking Charges" in reader.read(notice, timeout=30).text
        assert reader.pid == child  # one child for all three, a refusal included
        assert child is not None
        os.kill(child, signal.SIGKILL)
        wait_gone(child)
        # Dead between two PDFs: the next one is read by a new child, not refused.
        assert reader.read(minutes, timeout=30).pages == first.pages
        assert reader.pid not in (None, child)
    finally:
        reader.close()


def test_a_pdf_over_its_time_is_given_up_and_the_next_is_read() -> None:
    minutes = (PDFS / "printed_minutes_cabinet.pdf").read_bytes()
    reader = pdftext.Reader()
    try:
        with pytest.raises(pdftext.PdfProblem, match="took longer than 1e-06 seconds"):
            reader.read(minutes, timeout=0.000001)
        assert reader.pid is None  # killed, not left reading
        assert "forecast overspend" in reader.read(minutes, timeout=30).text
    finally:
        reader.close()


def test_a_child_that_dies_reading_gives_a_one_line_problem() -> None:
    """A child that cannot live within its memory cap (here too small to start) dies:
    the PDF gets a reason, not an exception from the pipe."""
    reader = pdftext.Reader(memory_limit=16 * 1024 * 1024)
    try:
        with pytest.raises(pdftext.PdfProblem, match=r"^the PDF could not be read \(") as failed:
            reader.read((PDFS / "printed_minutes_cabinet.pdf").read_bytes(), timeout=30)
        assert "\n" not in str(failed.value)
    finally:
        reader.close()


def test_a_reading_child_is_replaced_after_its_quota(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdftext, "MAX_DOCUMENTS", 2)
    notice = (PDFS / "decision_notice_executive.pdf").read_bytes()
    reader = pdftext.Reader()
    try:
        reader.read(notice, timeout=30)
        child = reader.pid
        reader.read(notice, timeout=30)
        assert reader.pid is None  # the second PDF was its last
        reader.read(notice, timeout=30)
        assert reader.pid not in (None, child)
    finally:
        reader.close()


def test_meeting_page_links_to_meeting_wide_files() -> None:
    body = meeting_page_html(
        "Cabinet",
        "Thursday, 12th November, 2026 6.00 pm",
        [
            ("Agenda frontsheet", "documents/g9001/Agenda frontsheet.pdf?T=0"),
            ("Printed minutes", "documents/g9001/Printed minutes 12th-Nov-2026.pdf?T=1"),
            ("Printed minutes", "documents/g9001/Printed minutes 12th-Nov-2026.pdf?T=1"),
        ],
    )
    url = "https://democracy.example.test/ieListDocuments.aspx?CId=31&MId=9001"
    fetched = Fetched(url, url, 200, body, "text/html", Validator())
    found = parse_documents(fetched, "https://democracy.example.test", "9001")
    assert [(d.title, d.url) for d in found] == [
        (
            "Agenda frontsheet",
            "https://democracy.example.test/documents/g9001/Agenda frontsheet.pdf?T=0",
        ),
        (
            "Printed minutes",
            "https://democracy.example.test/documents/g9001/Printed minutes 12th-Nov-2026.pdf?T=1",
        ),
    ]


def test_the_recommendations_of_a_report() -> None:
    result = pdftext.extract((PDFS / "report_leisure_consultation.pdf").read_bytes())
    found = layout.recommendations(layout.clean_pages(result.pages))
    assert found.startswith("2.1 That the proposed approach to Consultation and Options")
    assert found.endswith("to agree the final consultation\nmaterials.")
    assert "Background" not in found
    assert layout.recommendations("1. Purpose\nTo inform.\n2. Background\nNone.") == ""
    shouting = "RECOMMENDATION\nThat the fees be approved.\nReasons for Recommendation\nCosts."
    assert layout.recommendations(shouting) == "That the fees be approved."
