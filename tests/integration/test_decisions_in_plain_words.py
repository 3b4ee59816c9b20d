"""Issue 15 (text half), end to end through the collector: agenda and minutes text served
by the fake ModernGov server are stored, "Asked to decide:" is set when the agenda text
changes, and the meeting page and the API show decisions, asks and the plain summary."""

from __future__ import annotations

from datetime import timedelta
from html import escape
from typing import Any

import defusedxml.ElementTree as safe_xml
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import AgendaItem
from digest.runtime import Runtime
from tests.integration.collecting import collect, meetings_of, point_at_fake
from tests.support.clock import Clock
from tests.support.moderngov import FakeMeeting, FakeModernGov, FakeSite
from tests.support.web import text

HOST = "democracy.wigan.test"


def _item(item_id: str, title: str, agenda: str, minutes: str = "") -> Any:
    minutes_xml = (
        f"<minutesnonemptyhtmlbody>{escape(minutes)}</minutesnonemptyhtmlbody>" if minutes else ""
    )
    return safe_xml.fromstring(
        f"<agendaitem><agendaitemid>{item_id}</agendaitemid>"
        f"<agendaitemtitle>{escape(title)}</agendaitemtitle>"
        f"<agendatext>{escape(agenda)}</agendatext>{minutes_xml}"
        f"<fulldisplaynumberformat>{item_id}.</fulldisplaynumberformat>"
        "<isrestricted>False</isrestricted></agendaitem>"
    )


ASK = (
    "<p>Report of the Director of Children's Services.</p>"
    "<p>The Cabinet is recommended to approve the revised SEND transport policy.</p>"
)


def test_asks_decisions_and_summary_from_collected_text(
    rt: Runtime, client: FlaskClient, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    today = rt.now().date()
    upcoming = FakeMeeting(
        "8001",
        "465",
        "Cabinet",
        today + timedelta(days=3),
        items=[
            _item("1", "SEND Home to School Transport", ASK),
            _item("2", "Apologies for absence", "<p>To receive apologies.</p>"),
        ],
    )
    held = FakeMeeting(
        "8002",
        "466",
        "Planning Committee",
        today - timedelta(days=5),
        minutes=True,
        items=[
            _item(
                "1",
                "Land at Mill Lane",
                "<p>To consider the application.</p>",
                "<p>The Committee considered the report.</p>"
                "<p><b>RESOLVED THAT</b></p>"
                "<p>the application be APPROVED subject to the following conditions:</p>"
                "<p>1. Standard time limit</p><p>2. Approved plans</p>",
            ),
            _item(
                "2",
                "Minutes",
                "<p>To approve the minutes.</p>",
                "<p>The minutes of the meeting held on 1 October were approved as a correct "
                "record.</p>",
            ),
        ],
    )
    site = FakeSite(meetings=[upcoming, held])
    fake_moderngov.add_site(HOST, site)
    point_at_fake(rt, "wigan", fake_moderngov, HOST)
    assert collect(rt, "wigan").outcomes[0].ok

    stored = meetings_of(rt, "wigan")
    with rt.read_sessions() as session:
        asked = session.scalars(
            sa.select(AgendaItem.asked_to_decide)
            .where(AgendaItem.meeting_id == stored["8001"].id)
            .order_by(AgendaItem.position)
        ).all()
    assert asked == [["To approve the revised SEND transport policy."], []]

    page = text(client.get(f"/councils/wigan/meetings/{stored['8001'].id}"))
    assert '<p class="outcome-label">Asked to decide:</p>' in page
    assert "To approve the revised SEND" in page
    assert "The Cabinet meets on" in page

    page = text(client.get(f"/councils/wigan/meetings/{stored['8002'].id}"))
    assert '<p class="outcome-label">The committee resolved to:</p>' in page
    assert "The application be APPROVED subject to 2 conditions." in page
    assert "It approved the application Land at Mill Lane." in page

    api = client.get("/api/v1/councils/wigan/meetings").get_json()
    (recent,) = api["recent"]
    assert recent["summary"].endswith("It approved the application Land at Mill Lane.")
    assert [i["resolutions"] for i in recent["agenda_items"]] == [
        ["The application be APPROVED subject to 2 conditions."],
        ["The minutes of the meeting held on 1 October were approved as a correct record."],
    ]
    (soon,) = api["upcoming"]
    assert soon["summary"].startswith("The Cabinet meets on")
    assert soon["summary"].endswith(
        "Its agenda has 2 items; it is asked to approve the revised SEND transport policy."
    )
    assert soon["agenda_items"][0]["asked_to_decide"] == [
        "To approve the revised SEND transport policy."
    ]
    assert soon["agenda_items"][0]["resolutions"] == []

    # The agenda text changes: what the meeting is asked to decide is read again.
    upcoming.items = [
        _item(
            "1",
            "SEND Home to School Transport",
            "<p>Recommendations</p><p>1. That Cabinet defers the policy to January.</p>",
        ),
        _item("2", "Apologies for absence", "<p>To receive apologies.</p>"),
    ]
    upcoming.time = "11.00 am"  # a change GetMeetings shows: the detail is asked for again
    clock.advance(hours=2)
    assert collect(rt, "wigan").outcomes[0].ok
    with rt.read_sessions() as session:
        first = session.scalars(
            sa.select(AgendaItem.asked_to_decide)
            .where(AgendaItem.meeting_id == stored["8001"].id)
            .order_by(AgendaItem.position)
        ).first()
    assert first == ["Cabinet defers the policy to January."]
