"""Hostile input gets a clear answer and changes nothing it should not."""

from __future__ import annotations

import re
from datetime import timedelta
from email import policy
from email.parser import BytesParser

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from freezegun import freeze_time

from digest import subscriptions
from digest.models import (
    Council,
    OutboxMessage,
    OutboxStatus,
    SignupIntake,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)
from digest.runtime import Runtime
from tests.integration.helpers import (
    active_subscription,
    confirm_subscription,
    deliver,
    manage_link,
    pending_subscription,
    take_in,
    unsubscribe_link,
)
from tests.support.clock import Clock
from tests.support.mail import body, maildir_messages, subject
from tests.support.web import csrf_token, post_form, subscribe, text

HOSTILE_NAMES = [
    "Planning =?UTF-8?Q?x=0ABcc:_victim@example.com?= Council",
    "Evil\r\nBcc: victim@example.com Council",
    "Evil\nX-Injected: yes Council",
    '<script>alert(1)</script> & "Council"',
]


def count(rt: Runtime, model: type) -> int:
    with rt.read_sessions() as session:
        return session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def rename(rt: Runtime, slug: str, name: str) -> None:
    with rt.sessions.begin() as session:
        session.execute(
            sa.update(Council).where(Council.slug == slug).values(name=name, short_name=name)
        )


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_council_names_cannot_inject_mail_headers(
    client: FlaskClient, rt: Runtime, name: str
) -> None:
    rename(rt, "wigan", name)
    subscription_id = pending_subscription(rt, "target@example.net", "wigan")
    deliver(rt)  # the confirmation
    confirm_subscription(rt, subscription_id)
    deliver(rt)  # the welcome, a list mail
    messages = maildir_messages(rt.config.mail.maildir_path)
    assert len(messages) == 2
    raw_files = sorted(p for p in (rt.config.var_path / "mail" / "new").iterdir())
    expected = {
        "return-path",
        "delivered-to",
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "auto-submitted",
        "mime-version",
        "content-type",
    }
    for raw_path in raw_files:
        raw = raw_path.read_bytes()
        header_block = raw.split(b"\n\n", 1)[0]
        parsed = BytesParser(policy=policy.default).parsebytes(raw)
        names = {k.lower() for k in parsed}
        assert (
            names
            - expected
            - {"list-id", "list-unsubscribe", "list-unsubscribe-post", "precedence", "feedback-id"}
            == set()
        )
        assert parsed.get_all("Bcc") is None and parsed.get_all("X-Injected") is None
        assert b"\r" not in header_block
        assert parsed.get_all("To") == ["target@example.net"]
    for message in messages:
        html = body(message, "html")
        assert "<script>alert(1)</script>" not in html


def test_xss_in_council_name_is_escaped_on_every_page(client: FlaskClient, rt: Runtime) -> None:
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    rename(rt, "wigan", payload)
    for path in ("/", "/councils", "/councils?q=script", "/councils/wigan", "/waitlist"):
        html = text(client.get(path))
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
    assert "&lt;script&gt;alert" in text(client.get("/councils/wigan"))
    page = client.get("/councils?q=" + "<script>alert(1)</script>")
    assert "<script>alert(1)" not in text(page)


def test_security_headers(client: FlaskClient, rt: Runtime) -> None:
    page = client.get("/councils/wigan")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert "object-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Frame-Options"] == "DENY"
    subscription_id = active_subscription(rt, "headers@example.net", "wigan")
    token_page = client.get(
        "/unsubscribe/" + unsubscribe_link(rt, subscription_id).rsplit("/", 1)[1]
    )
    assert token_page.headers["Referrer-Policy"] == "same-origin"
    assert token_page.headers["Cache-Control"] == "no-store"
    set_cookie = client.get("/councils/wigan").headers.get("Set-Cookie", "") or page.headers.get(
        "Set-Cookie", ""
    )
    assert "__Host-session=" in set_cookie and "Secure" in set_cookie and "HttpOnly" in set_cookie


@pytest.mark.parametrize("path", ["/councils/wigan/subscribe"])
def test_missing_csrf_token_is_refused_and_stores_nothing(
    client: FlaskClient, rt: Runtime, path: str
) -> None:
    response = client.post(path, data={"email": "x@example.net"})
    assert response.status_code == 400
    assert "form has expired" in text(response)
    assert count(rt, SignupIntake) == 0


def test_confirm_and_manage_forms_require_csrf(client: FlaskClient, rt: Runtime) -> None:
    subscribe(client, "wigan", "csrf@example.net")
    take_in(rt)
    with rt.read_sessions() as session:
        subscription = session.scalars(sa.select(Subscription)).one()
    confirm_path = (
        "/confirm/"
        + rt.links.confirm(subscription.id, subscription.confirm_nonce or "").rsplit("/", 1)[1]
    )
    assert client.post(confirm_path).status_code == 400
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription.id).status == SubscriptionStatus.PENDING
    manage_path = "/manage/" + manage_link(rt, subscription.subscriber_id).rsplit("/", 1)[1]
    for action in ("/unsubscribe", "/export", "/erase"):
        assert (
            client.post(
                manage_path + action, data={"subscription": "all", "confirm": "yes"}
            ).status_code
            == 400
        )
    assert count(rt, Subscriber) == 1


def test_forged_tokens_are_refused_everywhere(client: FlaskClient, rt: Runtime) -> None:
    subscription_id = active_subscription(rt, "forged@example.net", "wigan")
    good_unsubscribe = unsubscribe_link(rt, subscription_id).rsplit("/", 1)[1]
    forged = good_unsubscribe[:-3] + ("xyz" if not good_unsubscribe.endswith("xyz") else "abc")
    assert client.get(f"/unsubscribe/{forged}").status_code == 404
    assert (
        client.post(
            f"/unsubscribe/{forged}",
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 404
    )
    assert client.get(f"/manage/{forged}").status_code == 404
    assert client.get("/confirm/not-a-token").status_code == 404
    # A genuine token for another purpose does not work either.
    assert client.get(f"/manage/{good_unsubscribe}").status_code == 404
    assert client.get(f"/confirm/{good_unsubscribe}").status_code == 404
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription_id).status == SubscriptionStatus.ACTIVE


def test_expired_confirmation_link(client: FlaskClient, rt: Runtime) -> None:
    with freeze_time("2026-11-18 10:00:00") as frozen:
        subscribe(client, "wigan", "late@example.net")
        take_in(rt)
        with rt.read_sessions() as session:
            subscription = session.scalars(sa.select(Subscription)).one()
        path = (
            "/confirm/"
            + rt.links.confirm(subscription.id, subscription.confirm_nonce or "").rsplit("/", 1)[1]
        )
        frozen.tick(timedelta(hours=72, seconds=1))
        page = client.get(path)
        assert page.status_code == 410
        assert "expired" in text(page)
        token = csrf_token(client, "/councils/wigan")
        assert client.post(path, data={"csrf_token": token}).status_code == 410
    with rt.read_sessions() as session:
        assert session.get_one(Subscription, subscription.id).status == SubscriptionStatus.PENDING


def test_reused_confirmation_link_does_nothing_more(client: FlaskClient, rt: Runtime) -> None:
    subscribe(client, "wigan", "twice@example.net")
    take_in(rt)
    with rt.read_sessions() as session:
        subscription = session.scalars(sa.select(Subscription)).one()
    path = (
        "/confirm/"
        + rt.links.confirm(subscription.id, subscription.confirm_nonce or "").rsplit("/", 1)[1]
    )
    assert post_form(client, path, path).status_code == 303
    again = client.get(path)
    assert again.status_code == 200 and "already been used" in text(again)
    token = csrf_token(client, "/councils/wigan")
    assert client.post(path, data={"csrf_token": token}).status_code == 200
    with rt.read_sessions() as session:
        welcomes = session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.purpose == "welcome")
        )
    assert welcomes == 1


def test_rate_limit_per_ip_gives_a_friendly_429(client: FlaskClient, rt: Runtime) -> None:
    statuses = [subscribe(client, "wigan", f"person{i}@example.net").status_code for i in range(11)]
    assert statuses == [303] * 10 + [429]
    limited = subscribe(client, "wigan", "one-more@example.net")
    assert limited.status_code == 429
    assert "Too many attempts" in text(limited)
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert count(rt, SignupIntake) == 10
    take_in(rt)
    assert count(rt, Subscriber) == 10 and count(rt, SignupIntake) == 0


def test_rate_limit_per_target_address_across_ips(client: FlaskClient, rt: Runtime) -> None:
    statuses = []
    for i in range(6):
        token = csrf_token(client, "/councils/wigan")
        statuses.append(
            client.post(
                "/councils/wigan/subscribe",
                data={"csrf_token": token, "email": "Victim@example.net"},
                environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"},
            ).status_code
        )
    assert statuses == [303] * 5 + [429]


def test_confirmation_emails_are_capped_per_address_per_day(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    for _ in range(4):  # under the per-address web limit, over the daily email cap
        subscribe(client, "wigan", "flooded@example.net")
        clock.advance(minutes=1)
    take_in(rt)
    with rt.read_sessions() as session:
        queued = session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage))
    assert queued == rt.config.mail.confirmations_per_day == 3
    clock.advance(days=1)
    subscribe(client, "wigan", "flooded@example.net")
    take_in(rt)
    assert count(rt, OutboxMessage) == 4


def test_honeypot_gets_the_same_answer_and_stores_nothing(client: FlaskClient, rt: Runtime) -> None:
    response = subscribe(client, "wigan", "bot@example.net", website="http://spam.example")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/councils/wigan/check-email")
    assert count(rt, SignupIntake) == 0
    take_in(rt)
    assert count(rt, Subscriber) == 0 and count(rt, OutboxMessage) == 0


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "x\r\nBcc: v@example.org", ""])
def test_invalid_email_is_explained_and_nothing_stored(
    client: FlaskClient, rt: Runtime, email: str
) -> None:
    response = subscribe(client, "wigan", email)
    assert response.status_code == 400
    html = text(response)
    assert 'aria-invalid="true"' in html
    assert re.search(r"Enter (your|an) email address", html)
    assert count(rt, SignupIntake) == 0


def test_unknown_council_is_404(client: FlaskClient) -> None:
    assert client.get("/councils/atlantis").status_code == 404
    assert client.post(
        "/councils/atlantis/subscribe", data={"email": "a@example.net"}
    ).status_code in (400, 404)


def test_oversized_form_is_refused(client: FlaskClient, rt: Runtime) -> None:
    token = csrf_token(client, "/councils/wigan")
    response = client.post(
        "/councils/wigan/subscribe", data={"csrf_token": token, "email": "a" * 400_000}
    )
    assert response.status_code == 413
    assert count(rt, SignupIntake) == 0


def test_queued_mail_is_not_sent_after_unsubscribe(client: FlaskClient, rt: Runtime) -> None:
    subscription_id = pending_subscription(rt, "changed-mind@example.net", "wigan")
    deliver(rt)
    confirm_subscription(rt, subscription_id)  # queues the welcome
    token = unsubscribe_link(rt, subscription_id).rsplit("/", 1)[1]
    client.post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    deliver(rt)
    with rt.read_sessions() as session:
        states = dict(session.execute(sa.select(OutboxMessage.purpose, OutboxMessage.status)).all())
    assert states == {"confirm_subscription": OutboxStatus.SENT, "welcome": OutboxStatus.SUPPRESSED}
    assert [subject(m) for m in maildir_messages(rt.config.mail.maildir_path)] == [
        "Confirm your subscription to Wigan Metropolitan Borough Council updates"
    ]


def test_unconfirmed_signups_are_purged_after_a_week(
    client: FlaskClient, rt: Runtime, clock: Clock
) -> None:
    subscribe(client, "wigan", "never-confirmed@example.net")
    take_in(rt)
    active_subscription(rt, "confirmed@example.net", "leeds")
    clock.advance(days=6, hours=23)
    with rt.sessions.begin() as session:
        assert subscriptions.purge_unconfirmed(session, rt.now()) == 0
    clock.advance(hours=2)
    with rt.sessions.begin() as session:
        assert subscriptions.purge_unconfirmed(session, rt.now()) == 1
    with rt.read_sessions() as session:
        emails = session.scalars(sa.select(Subscriber.email)).all()
    assert emails == ["confirmed@example.net"]
