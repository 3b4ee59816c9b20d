"""Professional requests: form -> confirmation email -> open request -> admins told;
decided by an admin, with the requester told either way."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import professional_requests
from digest.models import (
    EnablementRequest,
    OutboxMessage,
    RequestStatus,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from digest.runtime import Runtime
from tests.integration.helpers import make_admin, professional_request
from tests.support.web import csrf_token, post_form, text

FORM = {
    "name": "Pat Reporter",
    "organisation": "Wigan Observer",
    "email": "Pat@Observer.example",
    "reason": "We cover every planning committee.",
}


def messages(rt: Runtime, purpose: str) -> list[OutboxMessage]:
    with rt.read_sessions() as session:
        return list(
            session.scalars(sa.select(OutboxMessage).where(OutboxMessage.purpose == purpose))
        )


def confirm_path(rt: Runtime) -> str:
    with rt.read_sessions() as session:
        request = session.scalars(sa.select(EnablementRequest)).one()
    return (
        "/requests/confirm/"
        + rt.links.confirm_request(request.id, request.confirm_nonce or "").rsplit("/", 1)[1]
    )


def test_request_journey(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt, "first@councildigest.example.org")
    make_admin(rt, "second@councildigest.example.org")
    page = client.get("/councils/wigan")
    assert "/councils/wigan/request" in text(page)
    response = post_form(client, "/councils/wigan/request", "/councils/wigan/request", FORM)
    assert response.status_code == 303
    assert "Check your email" in text(client.get(response.headers["Location"]))
    [confirmation] = messages(rt, "confirm_request")
    assert confirmation.recipient == "pat@observer.example"
    assert "/requests/confirm/" in (confirmation.body_text or "")
    assert messages(rt, "request_received") == []  # nothing for admins until confirmed

    path = confirm_path(rt)
    assert "Confirm your request" in text(client.get(path))
    confirmed = post_form(client, path, path, {"subscribe": "yes"})
    assert confirmed.status_code == 303
    assert "your request is confirmed" in text(client.get(confirmed.headers["Location"]))
    assert sorted(m.recipient for m in messages(rt, "request_received")) == [
        "first@councildigest.example.org",
        "second@councildigest.example.org",
    ]
    assert "We cover every planning committee." in (
        messages(rt, "request_received")[0].body_text or ""
    )
    with rt.read_sessions() as session:
        subscription = session.scalars(sa.select(Subscription)).one()
        assert (subscription.kind, subscription.status) == (
            SubscriptionKind.PROFESSIONAL,
            SubscriptionStatus.ACTIVE,
        )
    assert len(messages(rt, "welcome")) == 1
    again = client.get(path)
    assert "already confirmed" in text(again)


def test_invalid_form_explains_every_problem(client: FlaskClient, rt: Runtime) -> None:
    bad = {"name": "", "organisation": "x" * 201, "email": "nope", "reason": " "}
    response = post_form(client, "/councils/wigan/request", "/councils/wigan/request", bad)
    assert response.status_code == 400
    html = text(response)
    for message in (
        "Enter your name.",
        "Keep your organisation under 200 characters.",
        "Enter an email address in the correct format",
        "Enter why you need this council.",
    ):
        assert message in html
    assert 'aria-invalid="true"' in html
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EnablementRequest)) == 0


def test_request_form_needs_csrf_and_catches_bots(client: FlaskClient, rt: Runtime) -> None:
    assert client.post("/councils/wigan/request", data=FORM).status_code == 400
    bot = post_form(
        client,
        "/councils/wigan/request",
        "/councils/wigan/request",
        {**FORM, "website": "http://spam.example"},
    )
    assert bot.status_code == 303
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(EnablementRequest)) == 0


def test_request_form_is_rate_limited(client: FlaskClient, rt: Runtime) -> None:
    statuses = []
    for i in range(6):
        token = csrf_token(client, "/councils/wigan/request")
        statuses.append(
            client.post(
                "/councils/wigan/request",
                data={**FORM, "email": f"p{i}@example.net", "csrf_token": token},
            ).status_code
        )
    assert statuses == [303] * 5 + [429]


def test_enabled_council_needs_no_request(client: FlaskClient, rt: Runtime) -> None:
    from digest import councils, enablement

    with rt.sessions.begin() as session:
        wigan = councils.get_by_slug(session, "wigan")
        assert wigan is not None
        enablement.enable(session, wigan, rt.now())
    assert "already live" in text(client.get("/councils/wigan/request"))
    response = post_form(client, "/councils/wigan", "/councils/wigan/request", FORM)
    assert response.status_code == 200
    assert messages(rt, "confirm_request") == []


def test_decline_tells_the_requester_with_the_note(rt: Runtime) -> None:
    request_id = professional_request(rt, "wigan", "pat@observer.example")
    with rt.sessions.begin() as session:
        request = session.get_one(EnablementRequest, request_id)
        assert professional_requests.decide(
            session,
            rt.mail,
            request,
            approve=False,
            admin=None,
            note="Their site blocks us for now.",
            now=rt.now(),
        )
        assert not professional_requests.decide(
            session, rt.mail, request, approve=False, admin=None, note="", now=rt.now()
        )
    [decided] = messages(rt, "request_decided")
    assert decided.recipient == "pat@observer.example"
    assert "Their site blocks us for now." in (decided.body_text or "")
    with rt.read_sessions() as session:
        assert session.get_one(EnablementRequest, request_id).status == RequestStatus.DECLINED
