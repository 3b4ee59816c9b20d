"""Topic watches end to end: a watch for "SEND transport" in two councils through double
opt-in over a real SMTP server on loopback, a collection from a fake ModernGov server
that adds a matching and a non-matching item, exactly one alert, and RFC 8058 one-click
unsubscribe. Plus the form's handling of bad input."""

from __future__ import annotations

import copy
from datetime import timedelta
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.addresses import email_hash
from digest.models import OutboxMessage, SubscriptionStatus, Suppression, SuppressionReason, Watch
from digest.runtime import Runtime
from digest.tokens import Purpose
from jobs import tasks
from tests.conftest import make_app
from tests.integration.collecting import collect, point_at_fake
from tests.integration.helpers import deliver
from tests.support.clock import Clock
from tests.support.mail import body, link_with, path_of, subject
from tests.support.moderngov import FakeMeeting, FakeModernGov, FakeSite, fixture
from tests.support.smtp import SmtpSink
from tests.support.web import post_form, text

EMAIL = "officer@example.net"


def item(item_id: str, number: str, title: str, text: str) -> ET.Element:
    """An agenda item shaped like the real Manchester one, with our title and text."""
    root = SafeET.fromstring(fixture("getmeeting_manchester_with_minutes_trimmed.xml"))
    element = copy.deepcopy(root.find("agendaitems/agendaitem"))
    assert element is not None
    for tag, value in (
        ("agendaitemid", item_id),
        ("agendaitemtitle", title),
        ("agendatext", f"<p>{text}</p>"),
        ("fulldisplaynumberformat", number),
        ("minutesnonemptyhtmlbody", "\n"),
    ):
        found = element.find(tag)
        assert found is not None
        found.text = value
    linked = element.find("linkeddocuments")
    if linked is not None:
        element.remove(linked)
    return element


def meeting(meeting_id: str, committee: str, when: object, items: list[ET.Element]) -> FakeMeeting:
    return FakeMeeting(
        id=meeting_id,
        committee_id="7",
        committee_title=committee,
        date=when,
        items=items,  # type: ignore[arg-type]
    )


def watch_status(rt: Runtime) -> SubscriptionStatus:
    with rt.read_sessions() as session:
        return session.scalars(sa.select(Watch.status)).one()


def test_watch_across_two_councils_sends_exactly_one_alert(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    rt = smtp_rt
    today = clock.now.date()
    wigan = fake_moderngov.add_site(
        "wigan.example",
        FakeSite(
            meetings=[
                meeting(
                    "101",
                    "Cabinet",
                    today - timedelta(days=2),
                    [
                        item("9001", "1.", "Budget Monitoring Report", "The forecast outturn."),
                    ],
                )
            ]
        ),
    )
    leeds = fake_moderngov.add_site(
        "leeds.example",
        FakeSite(
            meetings=[
                meeting(
                    "201",
                    "Executive Board",
                    today - timedelta(days=3),
                    [
                        item(
                            "9101",
                            "1.",
                            "Leisure Centre Review",
                            "Options for the leisure centres.",
                        ),
                    ],
                )
            ]
        ),
    )
    point_at_fake(rt, "wigan", fake_moderngov, "wigan.example")
    point_at_fake(rt, "leeds", fake_moderngov, "leeds.example")
    assert collect(rt, "wigan", "leeds").failed == []
    app = make_app(rt)
    client = app.test_client()

    form = client.get("/watch")
    assert form.status_code == 200 and "Schools and SEND" in text(form)
    sent = post_form(
        client,
        "/watch",
        "/watch",
        {
            "keywords": "SEND transport",
            "councils": ["wigan", "leeds"],
            "frequency": "daily",
            "email": EMAIL,
        },
    )
    assert sent.status_code == 303, text(sent)
    assert "Check your email" in text(client.get(sent.headers["Location"]))
    assert watch_status(rt) == SubscriptionStatus.PENDING

    deliver(rt)
    [confirmation] = smtp_sink.to(EMAIL)
    assert subject(confirmation.message) == "Confirm your topic watch"
    assert "“SEND transport”" in body(confirmation.message)
    assert "Leeds City Council, Wigan Metropolitan Borough Council" in body(confirmation.message)
    confirm_url = link_with(confirmation.message, "/watch/confirm/")
    page = client.get(path_of(confirm_url))  # a link scanner's GET confirms nothing
    assert page.status_code == 200 and watch_status(rt) == SubscriptionStatus.PENDING
    confirmed = post_form(client, path_of(confirm_url), path_of(confirm_url))
    assert confirmed.status_code == 303
    assert watch_status(rt) == SubscriptionStatus.ACTIVE
    assert "confirmed" in text(client.get(path_of(confirmed.headers["Location"])))

    # Nothing new yet: the daily run sends nothing.
    clock.advance(hours=1)
    assert "0 alerts" in tasks.watch_alerts(rt, "daily")

    # The next collection adds a matching item in Wigan, and non-matching ones in both.
    wigan.meetings.append(
        meeting(
            "102",
            "Children and Young People Committee",
            today + timedelta(days=5),
            [
                item(
                    "9002",
                    "1.",
                    "SEND Home to School Transport Policy",
                    "Travel assistance for pupils with special educational needs.",
                ),
                item("9003", "2.", "Allotment Rents 2027", "Rents for the council's allotments."),
            ],
        )
    )
    leeds.meetings.append(
        meeting(
            "202",
            "Executive Board",
            today + timedelta(days=6),
            [
                item("9102", "1.", "Library Opening Hours", "Changes to library opening hours."),
            ],
        )
    )
    clock.advance(hours=1)
    assert collect(rt, "wigan", "leeds").failed == []
    clock.advance(hours=1)
    assert "1 alerts, 1 matches" in tasks.watch_alerts(rt, "daily")
    assert "0 alerts" in tasks.watch_alerts(rt, "daily")  # a second run finds nothing new
    deliver(rt)

    alerts = smtp_sink.to(EMAIL)[1:]
    with rt.read_sessions() as session:
        states = [
            (m.purpose, m.status.value, m.last_error)
            for m in session.scalars(sa.select(OutboxMessage))
        ]
    assert len(alerts) == 1, states
    alert = alerts[0].message
    assert subject(alert) == "1 new item for your topic watch: “SEND transport”"
    text_body = body(alert)
    assert "SEND Home to School Transport Policy" in text_body
    assert "Allotment" not in text_body and "Library" not in text_body
    assert "WIGAN METROPOLITAN BOROUGH COUNCIL" in text_body
    assert "/councils/wigan/meetings/" in text_body
    assert f"{fake_moderngov.url('wigan.example')}/ieListDocuments.aspx" in text_body
    assert alert["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert alert["List-Id"] == "Topic watch <watch.councildigest.example.org>"
    unsubscribe_url = alert["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url in text_body and "@" not in unsubscribe_url

    # RFC 8058 one-click: no cookies, no CSRF token, 200, idempotent.
    provider = app.test_client(use_cookies=False)
    for attempt in range(2):
        one_click = provider.post(
            path_of(unsubscribe_url),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert one_click.status_code == 200, attempt
        assert "Location" not in one_click.headers
    assert watch_status(rt) == SubscriptionStatus.UNSUBSCRIBED

    # Another matching item after unsubscribing: no alert.
    leeds.meetings.append(
        meeting(
            "203",
            "Scrutiny Board",
            today + timedelta(days=8),
            [
                item(
                    "9103",
                    "1.",
                    "SEND Transport Review",
                    "Home to school transport for SEND pupils.",
                ),
            ],
        )
    )
    clock.advance(hours=1)
    collect(rt, "leeds")
    clock.advance(hours=1)
    assert "0 daily watches" in tasks.watch_alerts(rt, "daily")
    deliver(rt)
    assert len(smtp_sink.to(EMAIL)) == 2


def _submit(client: FlaskClient, **fields: object) -> tuple[int, str]:
    # A fresh address each time, so the per-address rate limit stays out of the way.
    _submit.count = getattr(_submit, "count", 0) + 1  # type: ignore[attr-defined]
    data = {"email": f"form{_submit.count}@example.net", "frequency": "weekly", **fields}  # type: ignore[attr-defined]
    response = post_form(client, "/watch", "/watch", data)
    return response.status_code, text(response)


def test_bad_watch_input_is_refused_plainly(client: FlaskClient, rt: Runtime) -> None:
    status, page = _submit(client, keywords="the council")
    assert status == 400 and "would match almost every agenda item" in page
    status, page = _submit(client, keywords=", ".join(f"word{n}" for n in range(11)))
    assert status == 400 and "at most 10 keywords" in page
    status, page = _submit(client, keywords="x" * 61)
    assert status == 400 and "at most 60 characters" in page
    status, page = _submit(client, keywords="(.*)+$")
    assert status == 400 and "characters we do not use" in page
    status, page = _submit(client)
    assert status == 400 and "at least one topic or" in page
    status, page = _submit(client, topics=["planning"], email="not an address")
    assert status == 400
    status, page = _submit(client, topics=["planning"], councils=["no-such-council"])
    assert status == 400 and "Choose councils from the list" in page
    # No CSRF token: refused before anything happens.
    assert client.post("/watch", data={"email": EMAIL, "topics": "planning"}).status_code == 400
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Watch)) == 0


def test_same_answer_whatever_the_address(client: FlaskClient, rt: Runtime) -> None:
    with rt.sessions.begin() as session:
        session.add(
            Suppression(
                email_hash=email_hash(rt.config.site.secret_key, "bounced@example.net"),
                reason=SuppressionReason.HARD_BOUNCE,
                created_at=rt.now(),
            )
        )
    answers = []
    for email, extra in (
        ("new@example.net", {}),
        ("bounced@example.net", {}),
        ("bot@example.net", {"website": "http://spam.example"}),
    ):
        response = post_form(
            client,
            "/watch",
            "/watch",
            {"email": email, "topics": ["planning"], "frequency": "weekly", **extra},
        )
        answers.append((response.status_code, response.headers.get("Location")))
    assert len(set(answers)) == 1 and answers[0][0] == 303
    with rt.read_sessions() as session:
        assert list(session.scalars(sa.select(OutboxMessage.recipient))) == ["new@example.net"]


def test_confirm_links_that_are_not_a_watch_confirmation_are_refused(
    client: FlaskClient, rt: Runtime
) -> None:
    """Forged, damaged, another purpose's, or the right purpose around the wrong shape of
    payload: all "invalid", 404, whatever watch they name."""
    _submit(client, topics=["planning"])
    with rt.read_sessions() as session:
        watch = session.scalars(sa.select(Watch)).one()
        watch_id, nonce = watch.id, watch.confirm_nonce
    good = rt.tokens.make(Purpose.WATCH_CONFIRM, [watch_id, nonce])
    assert client.get(f"/watch/confirm/{good}").status_code == 200  # the control
    for token in (
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        rt.tokens.make(Purpose.CONFIRM, [watch_id, nonce]),
        rt.tokens.make(Purpose.WATCH_CONFIRM, {"watch": watch_id, "nonce": nonce}),
        rt.tokens.make(Purpose.WATCH_CONFIRM, [str(watch_id), nonce]),
        "not-a-token",
    ):
        response = client.get(f"/watch/confirm/{token}")
        assert response.status_code == 404, token
    with rt.read_sessions() as session:
        assert session.get_one(Watch, watch_id).status == SubscriptionStatus.PENDING
