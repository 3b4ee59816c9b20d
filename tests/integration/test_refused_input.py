"""Input the database refuses, malformed headers and redirect targets get a plain 4xx
answer, never a 500 or a trip off-site (issue 10)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from digest import councils, enablement
from digest.models import AdminAction, Subscriber, Subscription
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, make_admin
from tests.support.web import csrf_token, post_form, text

ADMIN = "admin@councildigest.example.org"
PASSWORD = "correct horse battery staple"
NUL = "a\x00b"
FIELDS = (
    "email",
    "council",
    "subscription",
    "note",
    "decision",
    "back",
    "confirm",
    "q",
    "name",
    "organisation",
    "reason",
    "password",
    "slug",
)


def _sign_in(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt, ADMIN, PASSWORD)
    response = post_form(
        client, "/admin/login", "/admin/login", {"email": ADMIN, "password": PASSWORD}
    )
    assert response.status_code == 303


def _paths(app: Flask, value: str, token: str) -> list[tuple[str, str]]:
    """Every GET and POST route, its text arguments set to `value` (a `token` argument to
    `token`), numbers to 1."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "admin.logout"):
            continue
        args: dict[str, object] = {}
        for name, converter in rule._converters.items():
            if type(converter).__name__ == "IntegerConverter":
                args[name] = 1
            else:
                args[name] = token if name == "token" else value
        path = rule.build(args, append_unknown=False)[1]  # type: ignore[index]
        for method in sorted((rule.methods or set()) & {"GET", "POST"}):
            out.append((method, path))
    return out


def test_nul_bytes_anywhere_are_a_400_never_a_500(
    app: Flask, client: FlaskClient, rt: Runtime
) -> None:
    _sign_in(client, rt)
    subscription_id = active_subscription(rt, "someone@example.net", "wigan")
    with rt.read_sessions() as session:
        subscriber = session.get_one(
            Subscriber, session.get_one(Subscription, subscription_id).subscriber_id
        )
        manage = rt.links.manage(subscriber.id, subscriber.link_secret).rsplit("/", 1)[1]
    token = csrf_token(client, "/admin/")
    routes = _paths(app, NUL, NUL) + _paths(app, "wigan", manage)
    for method, path in routes:
        if method == "GET":
            response = client.get(path, query_string={f: NUL for f in FIELDS})
        else:
            response = client.post(path, data={"csrf_token": token, **dict.fromkeys(FIELDS, NUL)})
        assert response.status_code < 500, (method, path, response.status_code)
    assert len(routes) > 80
    plain = client.get("/councils", query_string={"q": NUL})
    assert plain.status_code == 400
    assert "cannot" in text(plain).lower()


def test_nul_in_the_path_is_a_400(client: FlaskClient) -> None:
    for path in ("/councils/wig%00an", "/councils/wigan/meetings/%00", "/manage/%00/export"):
        assert client.get(path).status_code in (400, 404), path


def test_admin_sign_in_with_a_nul_byte_is_refused_and_audited(
    client: FlaskClient, rt: Runtime
) -> None:
    make_admin(rt, ADMIN, PASSWORD)
    for field in ("email", "password"):
        data = {"email": ADMIN, "password": PASSWORD}
        data[field] = data[field] + "\x00"
        response = post_form(client, "/admin/login", "/admin/login", data)
        assert response.status_code == 400, field
        assert "admin_id" not in (client.get_cookie("__Host-session") or "")
    with rt.read_sessions() as session:
        actions = session.scalars(sa.select(AdminAction.action).order_by(AdminAction.id)).all()
        actors = session.scalars(sa.select(AdminAction.actor).order_by(AdminAction.id)).all()
    assert actions == ["login.failed", "login.failed"]
    assert all("\x00" not in actor for actor in actors)


@pytest.mark.parametrize("referer", ["https://[::1", "http://[oops/", "https://\x7f[/"])
def test_a_malformed_referer_gets_the_csrf_page(
    client: FlaskClient, rt: Runtime, referer: str
) -> None:
    token = csrf_token(client, "/councils/wigan")
    response = client.post(
        "/councils/wigan/subscribe",
        data={"csrf_token": token, "email": "x@example.net"},
        headers={"Referer": referer},
    )
    assert response.status_code == 400
    assert "not sent from our site" in text(response)


def test_one_click_unsubscribe_reply_does_not_hand_out_the_manage_page(
    client: FlaskClient, rt: Runtime
) -> None:
    subscription_id = active_subscription(rt, "one-click@example.net", "wigan")
    with rt.read_sessions() as session:
        subscription = session.get_one(Subscription, subscription_id)
        secret = session.get_one(Subscriber, subscription.subscriber_id).link_secret
    url = rt.links.unsubscribe(subscription_id, secret).removeprefix(rt.config.site.base_url)
    client.send_referer = False  # type: ignore[attr-defined]
    response = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "/manage/" not in text(response)


@pytest.mark.parametrize(
    "back",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "https:evil.example",
        "/admin/../\\evil",
    ],
)
def test_enable_form_back_only_goes_to_our_own_pages(
    client: FlaskClient, rt: Runtime, back: str
) -> None:
    _sign_in(client, rt)
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        enablement.go_live(session, rt.mail, council, rt.now())
    response = post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/enable",
        {"back": back, "confirm": "yes"},
    )
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("/admin") or location.startswith(
        "https://councildigest.example.org/admin"
    ), location
    assert "evil" not in location and "javascript" not in location


def test_enable_form_back_to_our_own_page_still_works(client: FlaskClient, rt: Runtime) -> None:
    _sign_in(client, rt)
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        enablement.go_live(session, rt.mail, council, rt.now())
    response = post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/enable",
        {"back": "/admin/queue", "confirm": "yes"},
    )
    assert response.headers["Location"].endswith("/admin/queue")
