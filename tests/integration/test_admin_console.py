"""The admin console: who can get in, what protects it, and what it records."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from digest.cli import CliState, main
from digest.models import Admin, AdminAction, Council, CouncilStatus, Subscriber
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, make_admin
from tests.support.clock import Clock
from tests.support.web import csrf_token, post_form, text

EMAIL = "admin@councildigest.example.org"
PASSWORD = "correct horse battery staple"


def login(client: FlaskClient, email: str = EMAIL, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return post_form(client, "/admin/login", "/admin/login", {"email": email, "password": password})


def audit(rt: Runtime) -> list[tuple[str, str, str]]:
    with rt.read_sessions() as session:
        return [
            (a.actor, a.action, a.target)
            for a in session.scalars(sa.select(AdminAction).order_by(AdminAction.id))
        ]


def admin_rules(app: Flask) -> list[tuple[str, str]]:
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin.") and rule.endpoint != "admin.login":
            path = (
                rule.rule.replace("<slug>", "wigan")
                .replace("<int:request_id>", "1")
                .replace("<int:subscriber_id>", "1")
            )
            for method in sorted((rule.methods or set()) & {"GET", "POST"}):
                out.append((method, path))
    return out


def test_admin_create_command(rt: Runtime) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["admin", "create", EMAIL, "--password-stdin"],
        obj=CliState(None, rt),
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    with rt.read_sessions() as session:
        admin = session.scalars(sa.select(Admin)).one()
    assert admin.password_hash.startswith("$argon2id$")
    assert PASSWORD not in admin.password_hash
    short = runner.invoke(
        main,
        ["admin", "create", "b@example.org", "--password-stdin"],
        obj=CliState(None, rt),
        input="short\n",
    )
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    twice = runner.invoke(
        main,
        ["admin", "create", EMAIL, "--password-stdin"],
        obj=CliState(None, rt),
        input=PASSWORD + "\n",
    )
    assert twice.exit_code == 1 and "already exists" in twice.output


def test_login_logout_and_audit(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    assert client.get("/admin/").status_code == 302
    wrong = login(client, password="not the password at all")
    assert wrong.status_code == 401 and "not right" in text(wrong)
    nobody = login(client, email="nobody@example.org")
    assert nobody.status_code == 401 and text(nobody).count("not right") == 1
    ok = login(client)
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/admin/")
    dashboard = client.get("/admin/")
    assert dashboard.status_code == 200 and "Dashboard" in text(dashboard)
    assert dashboard.headers["Cache-Control"] == "no-store"
    out = post_form(client, "/admin/", "/admin/logout")
    assert out.status_code == 303
    assert client.get("/admin/").status_code == 302
    actions = [a for _, a, _ in audit(rt)]
    assert actions == ["login.failed", "login.failed", "login", "logout"]


def test_every_admin_route_refuses_anonymous_access(
    app: Flask, client: FlaskClient, rt: Runtime
) -> None:
    make_admin(rt)
    rules = admin_rules(app)
    assert len(rules) >= 12
    token = csrf_token(client, "/admin/login")
    for method, path in rules:
        response = client.open(
            path, method=method, data={"csrf_token": token, "confirm": "yes", "decision": "approve"}
        )
        assert response.status_code in (302, 303), (method, path, response.status_code)
        assert "/admin/login" in response.headers["Location"], (method, path)
    with rt.read_sessions() as session:
        assert (
            session.scalar(sa.select(Council.status).where(Council.slug == "wigan"))
            == CouncilStatus.WAITLIST
        )


def test_every_admin_form_needs_csrf(app: Flask, client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    login(client)
    posts = [path for method, path in admin_rules(app) if method == "POST"]
    assert "/admin/councils/wigan/enable" in posts and "/admin/logout" in posts
    for path in posts:
        response = client.post(
            path, data={"confirm": "yes", "decision": "approve", "base_url": "https://x.example"}
        )
        assert response.status_code == 400, path
    with rt.read_sessions() as session:
        assert (
            session.scalar(sa.select(Council.status).where(Council.slug == "wigan"))
            == CouncilStatus.WAITLIST
        )
    assert client.get("/admin/").status_code == 200  # still signed in: logout was refused too


def test_login_brute_force_is_rate_limited(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    statuses = [login(client, password=f"guess number {i:04d}").status_code for i in range(6)]
    assert statuses == [401] * 5 + [429]
    assert login(client).status_code == 429  # even the right password, until the window passes


def test_session_fixation_and_revocation(app: Flask, client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    client.get("/admin/login")
    planted = client.get_cookie("__Host-session", domain="councildigest.example.org")
    assert planted is not None
    login(client)
    signed_in = client.get_cookie("__Host-session", domain="councildigest.example.org")
    assert signed_in is not None and signed_in.value != planted.value
    # The cookie an attacker planted before sign-in grants nothing.
    attacker = app.test_client()
    attacker.set_cookie(
        "__Host-session", planted.value, domain="councildigest.example.org", secure=True
    )
    assert attacker.get("/admin/").status_code == 302
    # A copy of the signed-in cookie stops working once the admin signs out.
    thief = app.test_client()
    thief.set_cookie(
        "__Host-session", signed_in.value, domain="councildigest.example.org", secure=True
    )
    assert thief.get("/admin/").status_code == 200
    post_form(client, "/admin/", "/admin/logout")
    assert thief.get("/admin/").status_code == 302


def test_idle_timeout(client: FlaskClient, rt: Runtime, clock: Clock) -> None:
    make_admin(rt)
    login(client)
    clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/admin/").status_code == 200  # activity resets the idle timer
    clock.advance(minutes=31)
    assert client.get("/admin/").status_code == 302


def test_login_redirect_cannot_leave_the_console(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    token = csrf_token(client, "/admin/login")
    for target in ("https://evil.example/admin", "//evil.example/admin", "/admin//evil.example"):
        client.post("/admin/logout")  # harmless when signed out
        response = client.post(
            f"/admin/login?next={target}",
            data={"csrf_token": token, "email": EMAIL, "password": PASSWORD},
        )
        assert response.headers["Location"].endswith("/admin/"), target
        token = csrf_token(client, "/admin/")


def test_console_pages_and_council_actions(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    active_subscription(rt, "r@example.net", "leeds")
    login(client)
    for page in (
        "/admin/",
        "/admin/queue",
        "/admin/requests",
        "/admin/councils",
        "/admin/councils?status=all",
        "/admin/councils/wigan",
        "/admin/delivery",
        "/admin/subscribers",
        "/admin/audit",
    ):
        assert client.get(page).status_code == 200, page
    bad = post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/base-url",
        {"base_url": "javascript:alert(1)"},
    )
    assert "Enter the full address" in text(client.get(bad.headers["Location"]))
    post_form(
        client,
        "/admin/councils/wigan",
        "/admin/councils/wigan/base-url",
        {"base_url": "https://democracy.wigan.gov.uk/"},
    )
    enabled = post_form(
        client, "/admin/councils/wigan", "/admin/councils/wigan/enable", {"confirm": "yes"}
    )
    assert "is enabled" in text(client.get(enabled.headers["Location"]))
    post_form(client, "/admin/councils/wigan", "/admin/councils/wigan/pause")
    with rt.read_sessions() as session:
        wigan = session.scalars(sa.select(Council).where(Council.slug == "wigan")).one()
    assert (
        wigan.status == CouncilStatus.PAUSED and wigan.base_url == "https://democracy.wigan.gov.uk"
    )
    actions = [(a, t) for _, a, t in audit(rt)]
    assert ("council.base_url", "wigan") in actions
    assert ("council.enable", "wigan") in actions and ("council.pause", "wigan") in actions
    trail = text(client.get("/admin/audit"))
    assert "council.enable" in trail and EMAIL in trail


def test_subscriber_lookup_and_erase(client: FlaskClient, rt: Runtime) -> None:
    make_admin(rt)
    active_subscription(rt, "Someone@Example.net", "leeds")
    login(client)
    page = text(client.get("/admin/subscribers?email=someone@example.net"))
    assert (
        "someone@example.net" in page
        and "Leeds" in page
        and "requested" in page
        and "confirmed" in page
    )
    with rt.read_sessions() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
    post_form(
        client,
        "/admin/subscribers?email=someone@example.net",
        f"/admin/subscribers/{subscriber_id}/erase",
        {"confirm": "yes"},
    )
    after = text(client.get("/admin/subscribers?email=someone@example.net"))
    assert "No subscriber has that address" in after and "This address was erased" in after
    assert "That blocks nothing" in after  # an erasure's hash alone suppresses nothing
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
        dump = " ".join(str(row) for row in session.execute(sa.select(AdminAction.__table__)))
    assert "someone@example.net" not in dump
