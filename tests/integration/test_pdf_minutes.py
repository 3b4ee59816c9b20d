"""Councils that publish minutes only as PDF: collect → read the PDF in a job → meeting
page, digest and API show the decisions; broken PDFs show their problem and nothing else
of the meeting is lost.

The PDFs in tests/fixtures/pdf/ were made the way councils make them (a Word document
converted by LibreOffice; see make_pdfs.py there) and are served by the fake ModernGov
server from its meeting page (ieListDocuments.aspx), not from GetMeeting.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.testing import FlaskClient

from digest import councils, search
from digest.cli import main
from digest.clock import utcnow
from digest.documents import extract as extraction
from digest.models import AgendaItem, Digest, Document, Meeting
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings, build_council_digest
from digest.weekly.weeks import IsoWeek
from jobs import tasks
from tests.integration.collecting import collect, point_at_fake, write_config
from tests.integration.helpers import make_admin
from tests.support.clock import Clock
from tests.support.moderngov import (
    FIXTURES,
    FakeMeeting,
    FakeModernGov,
    FakeSite,
    Reply,
    agenda_item,
    loopback_resolver,
    meeting_page_html,
)
from tests.support.web import post_form, text
from tests.support.workers import Worker, wait_until

HOST = "democracy.wychford.test"
PDFS = Path(__file__).resolve().parent.parent / "fixtures" / "pdf"
PDF = "application/pdf"
ADMIN = "admin@councildigest.example.org"
PASSWORD = "correct horse battery staple"
PAGE = "ieListDocuments.aspx"


def _pdf(name: str) -> Reply:
    return Reply((PDFS / name).read_bytes(), content_type=PDF)


def _page(committee: str, when: str, links: list[tuple[str, str]]) -> Reply:
    return Reply(meeting_page_html(committee, when, links), content_type="text/html")


def _site(rt: Runtime, fake: FakeModernGov, host: str = HOST) -> FakeSite:
    """Three held meetings of last week, their minutes only on their pages as PDFs."""
    today = rt.now().date()
    cabinet_items = [
        agenda_item("101", "1", "Apologies for Absence"),
        agenda_item("102", "2", "Declarations of Interest"),
        agenda_item("103", "3", "Minutes of the previous meeting"),
        agenda_item(
            "104",
            "4",
            "Leisure Facilities - Public Consultation",
            "To consider a public consultation on leisure facilities at Beacon Country Park.",
            documents=(("Leisure consultation report", "documents/s5104/Leisure report.pdf"),),
        ),
        agenda_item("105", "5", "The use of Assistive Technology to support Independent Living"),
        agenda_item("106", "6", "Budget Monitoring Quarter 2"),
        agenda_item("107", "7", "Exclusion of the Press and Public"),
        agenda_item("108", "8", "Acquisition of commercial property", restricted=True),
    ]
    executive_items = [
        agenda_item("201", "4", "Housing Revenue Account Business Plan"),
        agenda_item("202", "5", "Car Parking Charges Review"),
    ]
    licensing_items = [
        agenda_item("301", "1", "Review of a premises licence", "The review of a licence."),
    ]
    upcoming_items = [
        agenda_item(
            "401",
            "4",
            "Leisure Facilities - Public Consultation",
            "To consider the report of the Corporate Director.",
            documents=(
                ("Leisure consultation report", "documents/s6401/Leisure consultation.pdf"),
            ),
        ),
    ]
    meetings = [
        FakeMeeting(
            "9001", "31", "Cabinet", today - timedelta(days=6), "6.00 pm", items=cabinet_items
        ),
        FakeMeeting("9002", "32", "Executive", today - timedelta(days=7), items=executive_items),
        FakeMeeting(
            "9003", "33", "Licensing Committee", today - timedelta(days=8), items=licensing_items
        ),
        FakeMeeting("9004", "31", "Cabinet", today + timedelta(days=8), items=upcoming_items),
    ]
    pack = "documents/g9001/Public reports pack 12th-Nov-2026 18.00 Cabinet.pdf?T=10"
    files = {
        "/ieListDocuments.aspx?MId=9001": _page(
            "Cabinet",
            "Thursday, 12th November, 2026 6.00 pm",
            [
                ("Agenda frontsheet", "documents/g9001/Agenda frontsheet 12th-Nov-2026.pdf?T=0"),
                ("Public reports pack", pack),
                ("Printed minutes", "documents/g9001/Printed minutes 12th-Nov-2026.pdf?T=1"),
                ("Reports pack", pack),  # the same file twice: shown once
            ],
        ),
        "/documents/g9001/Printed minutes 12th-Nov-2026.pdf": _pdf("printed_minutes_cabinet.pdf"),
        "/ieListDocuments.aspx?MId=9002": _page(
            "Executive",
            "Wednesday, 11th November, 2026 10.00 am",
            [("Printed decisions", "documents/g9002/Printed decisions 11th-Nov-2026.pdf")],
        ),
        "/documents/g9002/Printed decisions 11th-Nov-2026.pdf": _pdf(
            "decision_notice_executive.pdf"
        ),
        "/ieListDocuments.aspx?MId=9003": _page(
            "Licensing Committee",
            "Tuesday, 10th November, 2026 10.00 am",
            [
                ("Printed minutes", "documents/g9003/Printed minutes.pdf"),
                ("Printed decisions", "documents/g9003/Printed decisions.pdf"),
                ("Record of decisions", "documents/g9003/Record of decisions.pdf"),
                ("Draft minutes", "documents/g9003/Draft minutes.pdf"),
            ],
        ),
        "/documents/g9003/Printed minutes.pdf": _pdf("truncated_minutes.pdf"),
        # The report of a coming meeting whose agenda says little.
        "/documents/s6401/Leisure consultation.pdf": _pdf("report_leisure_consultation.pdf"),
        "/documents/g9003/Printed decisions.pdf": _pdf("scanned_decisions.pdf"),
        "/documents/g9003/Record of decisions.pdf": _pdf("encrypted_minutes.pdf"),
        # A council's error page, answered with 200 and a PDF content type.
        "/documents/g9003/Draft minutes.pdf": Reply(
            (FIXTURES / "error_leeds_sharepoint_error_page_2016.html").read_bytes(),
            content_type=PDF,
        ),
    }
    site = fake.add_site(host, FakeSite(meetings=meetings, files=files, etag=True))
    point_at_fake(rt, "wigan", fake, host)
    return site


def _extract(rt: Runtime, **settings: Any) -> extraction.ExtractReport:
    config = dataclasses.replace(rt.config.collector, **settings)
    fetcher = extraction.pdf_fetcher(config, resolver=loopback_resolver)
    return extraction.run(rt.sessions, fetcher, rt.now)


def _documents(rt: Runtime, source_id: str) -> dict[str, Document]:
    with rt.read_sessions() as session:
        meeting = session.scalars(sa.select(Meeting).where(Meeting.source_id == source_id)).one()
        docs = session.scalars(sa.select(Document).where(Document.meeting_id == meeting.id))
        return {d.title: d for d in docs}


def _items(rt: Runtime, source_id: str) -> dict[str, AgendaItem]:
    with rt.read_sessions() as session:
        found = session.scalars(
            sa.select(AgendaItem).join(Meeting).where(Meeting.source_id == source_id)
        )
        return {i.title: i for i in found}


def test_pdf_minutes_reach_the_meeting_page_the_digest_and_the_api(
    rt: Runtime, fake_moderngov: FakeModernGov, client: FlaskClient
) -> None:
    _site(rt, fake_moderngov)
    report = collect(rt, "wigan")
    assert report.outcomes[0].ok, report.summary()
    # One more request per held meeting without minutes: its public page.
    pages = [r for r in fake_moderngov.requests_to(HOST) if r.operation == "ieListDocuments.aspx"]
    assert len(pages) == 3

    cabinet_docs = _documents(rt, "9001")
    assert {t: d.kind for t, d in cabinet_docs.items()} == {
        "Agenda frontsheet": "agenda",
        "Public reports pack": "reports_pack",
        "Printed minutes": "minutes",
        "Leisure consultation report": "report",
    }
    assert cabinet_docs["Printed minutes"].extract_state == "pending"
    assert cabinet_docs["Public reports pack"].extract_state == ""

    result = _extract(rt)
    assert result.read == 3 and len(result.problems) == 4, result.summary()
    # The text read is searchable at once: a report's text as a document of its own, the
    # printed minutes as the items' minutes they were shared out to.
    with rt.read_sessions() as session:
        report_hits = search.search(session, search.SearchQuery("substantial investment")).hits
        minutes_hits = search.search(session, search.SearchQuery("assistive technology")).hits
    assert [(h.kind, h.title) for h in report_hits] == [("document", "Leisure consultation report")]
    assert "<mark>investment</mark>" in report_hits[0].snippet
    assert {h.kind for h in minutes_hits} == {"decision"}

    items = _items(rt, "9001")
    assert items["Leisure Facilities - Public Consultation"].resolutions == [
        "The proposed approach to Consultation and Options appraisal, as set out in Section 7 "
        "of the report, be approved."
    ]
    budget = items["Budget Monitoring Quarter 2"]
    # The numbered list runs over a page break: both sides are there, the running header
    # and the page number between them are not.
    assert "notes the forecast overspend of £4.2m" in budget.minutes_text
    assert "delegates authority to the Chief Finance Officer" in budget.minutes_text
    assert "Wychford District Council: Cabinet" not in budget.minutes_text
    assert "Page 2 of 3" not in budget.minutes_text
    two_columns = items["The use of Assistive Technology to support Independent Living"]
    assert two_columns.resolutions and "support independent" in two_columns.resolutions[0]
    assert items["Apologies for Absence"].resolutions == []
    assert items["Acquisition of commercial property"].minutes_text == ""
    executive = _items(rt, "9002")
    assert (
        "be approved and recommended to Council"
        in (executive["Housing Revenue Account Business Plan"].resolutions[0])
    )
    assert "deferred" in executive["Car Parking Charges Review"].resolutions[0]

    broken = _documents(rt, "9003")
    assert {t: (d.extract_state, d.problem) for t, d in broken.items()} == {
        "Printed minutes": (
            "failed",
            "truncated PDF: the file ends before its end marker (cut-off download?)",
        ),
        "Printed decisions": ("failed", "no text layer: a scanned image; we cannot read it"),
        "Record of decisions": ("failed", "encrypted PDF: it needs a password to open"),
        "Draft minutes": ("failed", "not a PDF: the address answered with a web page (HTML)"),
    }

    with rt.read_sessions() as session:
        ids = {row[0]: row[1] for row in session.execute(sa.select(Meeting.source_id, Meeting.id))}
    page = client.get(f"/councils/wigan/meetings/{ids['9001']}").get_data(as_text=True)
    assert "The proposed approach to Consultation and Options appraisal" in page
    assert "Printed minutes 12th-Nov-2026.pdf" in page  # the source, linked
    # Reports pack first, then the other papers, each once.
    assert page.index("Public reports pack") < page.index("Additional documents")
    assert page.index("Additional documents") < page.index("Agenda frontsheet")
    assert page.count("Public reports pack 12th-Nov-2026") == 1
    coming = client.get(f"/councils/wigan/meetings/{ids['9004']}").get_data(as_text=True)
    assert (
        "The report recommends: 2.1 That the proposed approach to Consultation and Options "
        "appraisal, as set out in Section 7 of the report, be approved." in coming
    )
    assert "Asked to decide" in coming
    licensing = client.get(f"/councils/wigan/meetings/{ids['9003']}").get_data(as_text=True)
    assert "Review of a premises licence" in licensing and "The review of a licence." in licensing

    api = client.get("/api/v1/councils/wigan/meetings").get_json()
    by_id = {m["source_id"]: m for m in api["recent"]}
    kinds = [d["kind"] for d in by_id["9001"]["documents"]]
    assert kinds[0] == "reports_pack" and "minutes" in kinds
    leisure = next(i for i in by_id["9001"]["agenda_items"] if i["number"] == "4.")
    assert leisure["resolutions"][0].startswith("The proposed approach to Consultation")
    (asked,) = [m for m in api["upcoming"] if m["source_id"] == "9004"]
    assert asked["agenda_items"][0]["asked_to_decide"][0].startswith(
        "The proposed approach to Consultation and Options appraisal"
    )
    problems = {d["title"]: d["problem"] for d in by_id["9003"]["documents"]}
    assert problems["Record of decisions"] == "encrypted PDF: it needs a password to open"
    assert by_id["9003"]["agenda_items"][0]["title"] == "Review of a premises licence"

    # Admins see every problem on the council's page.
    make_admin(rt, ADMIN, PASSWORD)
    post_form(client, "/admin/login", "/admin/login", {"email": ADMIN, "password": PASSWORD})
    admin_page = text(client.get("/admin/councils/wigan"))
    assert "encrypted PDF: it needs a password to open" in admin_page
    assert "no text layer: a scanned image; we cannot read it" in admin_page

    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        built = build_council_digest(
            session,
            council,
            IsoWeek.of(rt.now(), rt.config.tz),
            rt.now(),
            BuildSettings.from_config(rt.config),
            rt.links,
        )
    with rt.read_sessions() as session:
        digest = session.get_one(Digest, built.digest_id)
        body_text, body_html = digest.body_text, digest.body_html
    for body in (body_text, body_html):
        assert "Consultation and Options appraisal" in body
        assert "Decisions read from the council" in body  # the source, linked
        assert "Printed minutes 12th-Nov-2026.pdf" in body.replace("%20", " ")
        assert "Housing Revenue Account Business Plan 2026-2056 be approved" in body


def test_the_meeting_page_is_read_only_while_it_can_add_the_minutes(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    site = _site(rt, fake_moderngov)
    # A fourth held meeting whose GetMeeting links its printed minutes itself.
    site.meetings.append(
        FakeMeeting(
            "9005", "34", "Planning Committee", rt.now().date() - timedelta(days=2),
            items=[agenda_item("501", "1", "Minutes", documents=(
                ("Printed minutes", "documents/g9005/Printed minutes.pdf"),))],
        )
    )  # fmt: skip
    collect(rt, "wigan")
    pages = [r.query for r in fake_moderngov.requests_to(HOST) if r.operation == PAGE]
    assert sorted(pages) == [
        f"CId={c}&MId={m}" for c, m in (("31", "9001"), ("32", "9002"), ("33", "9003"))
    ]
    # Past `recheck_hours` the held meetings still waiting for minutes are asked for
    # again, but their pages gave minutes or decision PDFs already: not read again.
    clock.advance(hours=rt.config.collector.recheck_hours + 1)
    fake_moderngov.clear_log()
    collect(rt, "wigan")
    again = fake_moderngov.requests_to(HOST)
    assert any(r.operation == "GetMeeting" and "9003" in r.query for r in again)
    assert not [r for r in again if r.operation == PAGE]


def test_an_unchanged_pdf_is_not_read_twice_and_an_oversized_one_is_refused(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    _site(rt, fake_moderngov)
    collect(rt, "wigan")
    first = _extract(rt, max_pdf_bytes=30_000)
    too_big = "the PDF is larger than 30,000 bytes ([collector] max_pdf_bytes); not downloaded"
    assert _documents(rt, "9001")["Printed minutes"].problem == too_big
    assert first.read == 2  # the 27 KB decision notice and the report

    # Queued again (say by an operator): a 304 for the same file, nothing parsed.
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Document)
            .where(Document.kind == "decision_notice")
            .values(extract_state="pending")
        )
    fake_moderngov.clear_log()
    again = _extract(rt)
    assert again.read == 0
    assert any(o.unchanged for o in again.outcomes)
    sent = [r for r in fake_moderngov.requests_to(HOST) if "Printed decisions 11th" in r.path]
    assert sent and sent[0].headers.get("If-None-Match")
    # Collecting again does not queue what was read.
    collect(rt, "wigan")
    with rt.read_sessions() as session:
        assert extraction.pending_count(session, rt.now()) == 0


def test_collect_reads_what_it_fetched_unless_told_not_to(
    tmp_path: Path, rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    clock.set(utcnow())  # the commands run on the real clock
    _site(rt, fake_moderngov, host="127.0.0.1")
    config = write_config(tmp_path, rt)
    runner = CliRunner()

    left = runner.invoke(main, ["--config", str(config), "collect", "wigan", "--no-extract"])
    assert left.exit_code == 0, left.output
    assert "PDF minutes" not in left.output
    assert _waiting(rt) == 7
    assert not [r for r in fake_moderngov.log if r.path.endswith(".pdf")]

    # The scheduler's delivery round reads a few, as a worker does.
    assert "documents read" in tasks.deliver_outbox(rt)
    assert _waiting(rt) == 4

    done = runner.invoke(main, ["--config", str(config), "collect", "wigan"])
    assert done.exit_code == 0, done.output
    assert "PDF minutes:" in done.output and "unreadable" in done.output
    assert _waiting(rt) == 0
    # Nothing left: `digest extract` has nothing to do.
    idle = runner.invoke(main, ["--config", str(config), "extract", "--limit", "5"])
    assert idle.exit_code == 0 and "0 documents read" in idle.output


def _waiting(rt: Runtime) -> int:
    with rt.read_sessions() as session:
        return extraction.pending_count(session, rt.now())


def test_workers_on_postgresql_claim_different_documents(
    rt: Runtime, fake_moderngov: FakeModernGov, db_backend: str
) -> None:
    if db_backend != "postgresql":
        pytest.skip("row locks (SKIP LOCKED) are PostgreSQL's; SQLite runs one worker")
    _site(rt, fake_moderngov)
    collect(rt, "wigan")
    # Two workers claiming at the same moment, each inside its own open transaction.
    with rt.sessions.begin() as first, rt.sessions.begin() as second:
        a = extraction.claim(first, now=rt.now(), limit=3)
        b = extraction.claim(second, now=rt.now(), limit=10)
    assert (len(a), len(b)) == (3, 4) and not set(a) & set(b)
    with rt.read_sessions() as session:
        assert extraction.pending_count(session, rt.now()) == 0


def test_a_digest_worker_process_reads_the_queued_pdfs(
    tmp_path: Path, rt: Runtime, fake_moderngov: FakeModernGov, db_backend: str
) -> None:
    if db_backend != "sqlite":
        pytest.skip("one backend is enough for the process; the claim is tested on both")
    _site(rt, fake_moderngov, host="127.0.0.1")
    collect(rt, "wigan")
    assert _waiting(rt) == 7
    worker = Worker(write_config(tmp_path, rt), tmp_path, "reader")
    try:
        assert wait_until(lambda: _waiting(rt) == 0, timeout=90), worker.output()
    finally:
        assert worker.terminate() == 0, worker.output()
    problems = {d.title: d.problem for d in _documents(rt, "9003").values()}
    assert problems["Record of decisions"] == "encrypted PDF: it needs a password to open"
    assert _items(rt, "9002")["Car Parking Charges Review"].resolutions
