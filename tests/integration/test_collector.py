"""Collecting from a fake ModernGov server on loopback into the database: what is stored,
what is recorded as a change, and how little a re-poll costs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import AgendaItem, Attendee, Document, Meeting, MeetingStatus
from digest.runtime import Runtime
from tests.integration.collecting import (
    changes_of,
    collect,
    council,
    meetings_of,
    point_at_fake,
    snapshot,
)
from tests.support.clock import Clock
from tests.support.moderngov import FakeMeeting, FakeModernGov, FakeSite, manchester_like

HOST = "democracy.wigan.test"


def _wigan(rt: Runtime, fake: FakeModernGov, **site_options: Any) -> FakeSite:
    today = rt.now().date()
    site = fake.add_site(HOST, FakeSite(meetings=manchester_like(today), **site_options))
    point_at_fake(rt, "wigan", fake, HOST)
    return site


def test_first_collection_stores_meetings_and_their_parts(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    _wigan(rt, fake_moderngov)
    report = collect(rt, "wigan")
    assert [o.ok for o in report.outcomes] == [True], report.summary()
    assert report.outcomes[0].new == 3

    found = meetings_of(rt, "wigan")
    assert set(found) == {"4966", "4967", "4968"}
    held, cancelled, budget = found["4967"], found["4966"], found["4968"]
    assert held.status == MeetingStatus.HELD and held.minutes_published
    assert held.committee == "Audit Committee" and held.committee_source_id == "144"
    assert held.venue == "Council Antechamber, Level 2, Town Hall Extension"
    assert held.source_url == f"{fake_moderngov.url(HOST)}/ieListDocuments.aspx?CId=144&MId=4967"
    assert cancelled.status == MeetingStatus.CANCELLED and not cancelled.agenda_published
    # 'Confirmed; Budget Council': confirmed, with the label kept.
    assert budget.status == MeetingStatus.SCHEDULED
    assert budget.title == "Council (Budget Council)"
    assert budget.status_label == "Confirmed; Budget Council"
    # 6.00 pm London time on 1 December (GMT) is 18:00 UTC.
    assert budget.start_at == datetime(2026, 12, 1, 18, 0, tzinfo=UTC) and budget.time_known
    assert budget.start_date.isoformat() == "2026-12-01"

    with rt.read_sessions() as session:
        items = session.scalars(
            sa.select(AgendaItem)
            .where(AgendaItem.meeting_id == held.id)
            .order_by(AgendaItem.position)
        ).all()
        docs = session.scalars(sa.select(Document).where(Document.meeting_id == held.id)).all()
        people = session.scalars(sa.select(Attendee).where(Attendee.meeting_id == held.id)).all()
    # The displayed number is fulldisplaynumberformat ("9."), not agendaitemnumber (12).
    assert [(i.number, i.title) for i in items] == [("1.", "Minutes"), ("9.", "Work Programme")]
    assert items[0].agenda_text == (
        "To approve as a correct record the minutes of the meeting held on 25 November 2025."
    )
    assert items[1].minutes_text.startswith("The Committee considered a report of the")
    assert "<" not in items[1].minutes_text and "&" not in items[1].minutes_text
    assert all(i.resolutions == [] for i in items)  # extracted by the summaries, not here
    assert [d.title for d in docs] == [
        "6 - CHAIR APPROVED Minutes Audit Committee 25 Nov 2025",
        "DRAFT WP FEBRUARY 2026",
    ]
    assert docs[0].published_on is not None and docs[0].published_on.isoformat() == "2026-02-02"
    assert [(p.name, p.role, p.party, p.attendance) for p in people] == [
        ("Councillor Basil Curley", "Committee Member", "LAB", "Expected")
    ]

    kinds = sorted((source, kind) for source, kind, _ in changes_of(rt, "wigan"))
    assert kinds == [
        ("4966", "cancelled"),
        ("4966", "new"),
        ("4967", "agenda_published"),
        ("4967", "minutes_published"),
        ("4967", "new"),
        ("4968", "agenda_published"),
        ("4968", "new"),
    ]
    wigan = council(rt, "wigan")
    assert wigan.last_success_at == rt.now() and wigan.consecutive_failures == 0
    assert wigan.last_error is None

    log = fake_moderngov.requests_to(HOST)
    assert [r.operation for r in log] == ["GetMeetings", "GetMeeting", "GetMeeting", "GetMeeting"]
    first = log[0]
    assert "lCommitteeId=0" in first.query
    assert "sFromDate=04%2F11%2F2026" in first.query and "sToDate=17%2F01%2F2027" in first.query
    assert "github.com/council-digest" in first.headers["User-Agent"]


def test_a_repoll_with_nothing_new_makes_one_request_and_changes_nothing(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    _wigan(rt, fake_moderngov)
    collect(rt, "wigan")
    before, changes = snapshot(rt, "wigan"), changes_of(rt, "wigan")
    fake_moderngov.clear_log()
    clock.advance(hours=1)

    report = collect(rt, "wigan")

    assert report.outcomes[0].ok and report.outcomes[0].new == report.outcomes[0].changed == 0
    assert [r.operation for r in fake_moderngov.requests_to(HOST)] == ["GetMeetings"]
    assert snapshot(rt, "wigan") == before
    assert changes_of(rt, "wigan") == changes
    assert council(rt, "wigan").last_success_at == rt.now()


def test_conditional_get_when_the_host_sends_validators(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    _wigan(rt, fake_moderngov, etag=True)
    collect(rt, "wigan")
    before = snapshot(rt, "wigan")
    fake_moderngov.clear_log()
    clock.advance(hours=1)

    assert collect(rt, "wigan").outcomes[0].ok
    (only,) = fake_moderngov.requests_to(HOST)
    assert only.operation == "GetMeetings" and only.headers.get("If-None-Match")
    assert only.status == 304
    assert snapshot(rt, "wigan") == before


def test_reschedule_cancellation_and_reinstatement_are_recorded(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    site = _wigan(rt, fake_moderngov)
    collect(rt, "wigan")
    budget = next(m for m in site.meetings if m.id == "4968")
    old_start = meetings_of(rt, "wigan")["4968"].start_at

    clock.advance(hours=1)
    budget.date += timedelta(days=2)
    collect(rt, "wigan")
    moved = meetings_of(rt, "wigan")["4968"]
    assert moved.status == MeetingStatus.RESCHEDULED
    assert moved.start_at == old_start + timedelta(days=2)
    kind, detail = changes_of(rt, "wigan")[-1][1:]
    assert kind == "rescheduled"
    assert detail["from"] == old_start.isoformat() and detail["to"] == moved.start_at.isoformat()

    clock.advance(hours=1)
    budget.status = "Cancelled"
    collect(rt, "wigan")
    assert meetings_of(rt, "wigan")["4968"].status == MeetingStatus.CANCELLED
    assert changes_of(rt, "wigan")[-1][:2] == ("4968", "cancelled")

    clock.advance(hours=1)
    budget.status = "Confirmed"
    collect(rt, "wigan")
    assert meetings_of(rt, "wigan")["4968"].status == MeetingStatus.SCHEDULED
    assert changes_of(rt, "wigan")[-1][:2] == ("4968", "reinstated")


def test_papers_still_due_are_rechecked_now_and_then(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = rt.now().date()
    upcoming = FakeMeeting("7001", "465", "Cabinet", today + timedelta(days=10), agenda=False)
    fake_moderngov.add_site(HOST, FakeSite(meetings=[upcoming]))
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    collect(rt, "wigan")
    assert not meetings_of(rt, "wigan")["7001"].agenda_published

    fake_moderngov.clear_log()
    clock.advance(hours=6)
    collect(rt, "wigan")
    assert len(fake_moderngov.requests_to(HOST)) == 1  # checked 6 hours ago: not yet

    upcoming.agenda = True
    clock.advance(hours=7)
    collect(rt, "wigan")
    assert meetings_of(rt, "wigan")["7001"].agenda_published
    assert changes_of(rt, "wigan")[-1][:2] == ("7001", "agenda_published")

    # Held, minutes not yet out: asked again after recheck_hours until they are.
    clock.set(datetime.combine(today + timedelta(days=11), datetime.min.time(), tzinfo=UTC))
    collect(rt, "wigan")
    assert meetings_of(rt, "wigan")["7001"].status == MeetingStatus.HELD
    upcoming.minutes = True
    clock.advance(hours=13)
    collect(rt, "wigan")
    assert meetings_of(rt, "wigan")["7001"].minutes_published
    assert changes_of(rt, "wigan")[-1][:2] == ("7001", "minutes_published")


def test_meetings_outside_the_window_are_dropped_when_a_host_ignores_it(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    today = rt.now().date()
    site = _wigan(rt, fake_moderngov, ignores_dates=True)
    site.meetings += [
        FakeMeeting("1", "319", "Council", today - timedelta(days=400)),
        FakeMeeting("2", "319", "Council", today + timedelta(days=200)),
    ]
    assert collect(rt, "wigan").outcomes[0].ok
    assert set(meetings_of(rt, "wigan")) == {"4966", "4967", "4968"}
    asked = {r.query.split("lMeetingId=")[-1] for r in fake_moderngov.requests_to(HOST)[1:]}
    assert asked == {"4966", "4967", "4968"}


def test_an_answer_with_counts_only_is_an_empty_list(
    rt: Runtime, fake_moderngov: FakeModernGov
) -> None:
    from tests.support.moderngov import counts_only_xml

    _wigan(rt, fake_moderngov, getmeetings_body=counts_only_xml())
    report = collect(rt, "wigan")
    assert report.outcomes[0].ok and meetings_of(rt, "wigan") == {}


def test_collected_data_is_never_deleted(
    rt: Runtime, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    site = _wigan(rt, fake_moderngov)
    collect(rt, "wigan")
    site.meetings = [m for m in site.meetings if m.id != "4967"]
    clock.advance(hours=1)
    assert collect(rt, "wigan").outcomes[0].ok
    assert "4967" in meetings_of(rt, "wigan")
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Meeting)) == 3


def _item(item_id: str, title: str, restricted: bool, doc_url: str, doc_restricted: bool) -> Any:
    import defusedxml.ElementTree as safe_xml

    return safe_xml.fromstring(
        f"<agendaitem><agendaitemid>{item_id}</agendaitemid>"
        f"<agendaitemtitle>{title}</agendaitemtitle>"
        "<agendatext>&lt;p&gt;Report of the Director of Place&lt;/p&gt;</agendatext>"
        f"<fulldisplaynumberformat>{item_id}.</fulldisplaynumberformat>"
        f"<isrestricted>{restricted}</isrestricted>"
        "<linkeddocuments><linkeddoc>"
        f"<title>Paper {item_id}</title><url>{doc_url}</url>"
        f"<isrestricted>{doc_restricted}</isrestricted>"
        "</linkeddoc></linkeddocuments></agendaitem>"
    )


def test_restricted_items_and_shared_documents(
    rt: Runtime, client: FlaskClient, fake_moderngov: FakeModernGov
) -> None:
    pack = "https://democracy.wigan.test/documents/g7002/Public reports pack.pdf"
    meeting = FakeMeeting(
        "7002",
        "465",
        "Cabinet",
        rt.now().date() + timedelta(days=3),
        items=[
            _item("1", "Town Centre Plan", False, pack, False),
            _item("2", "Town Centre Plan: Appendix", False, pack, False),
            _item("3", "Exempt: Sale of Land", True, "mgConvert2PDF.aspx?ID=9", True),
        ],
    )
    fake_moderngov.add_site(HOST, FakeSite(meetings=[meeting]))
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    assert collect(rt, "wigan").outcomes[0].ok

    with rt.read_sessions() as session:
        stored = meetings_of(rt, "wigan")["7002"]
        items = session.scalars(
            sa.select(AgendaItem)
            .where(AgendaItem.meeting_id == stored.id)
            .order_by(AgendaItem.position)
        ).all()
        docs = session.scalars(
            sa.select(Document).where(Document.meeting_id == stored.id).order_by(Document.position)
        ).all()
    assert [(i.title, i.is_restricted, i.agenda_text) for i in items] == [
        ("Town Centre Plan", False, "Report of the Director of Place"),
        ("Town Centre Plan: Appendix", False, "Report of the Director of Place"),
        ("Exempt: Sale of Land", True, ""),
    ]
    assert [(d.title, d.is_restricted, d.agenda_item_id) for d in docs] == [
        ("Paper 1", False, items[0].id),
        ("Paper 3", True, items[2].id),
    ]
    (upcoming,) = client.get("/api/v1/councils/wigan/meetings").get_json()["upcoming"]
    assert [d["url"] for d in upcoming["documents"]] == [pack, None]
