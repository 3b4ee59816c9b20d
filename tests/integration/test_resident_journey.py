"""The whole resident journey through a real SMTP server on loopback:
subscribe -> confirmation email -> GET confirm (no change) -> POST confirm -> welcome email
-> one-click unsubscribe -> manage page export and erase."""

from __future__ import annotations

import json

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import (
    ConsentEvent,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from digest.runtime import Runtime
from tests.conftest import make_app
from tests.integration.helpers import deliver, unsubscribe_link
from tests.support.mail import body, link_with, path_of, subject
from tests.support.smtp import SmtpSink
from tests.support.web import post_form, subscribe, text


def status_of(rt: Runtime, email: str) -> SubscriptionStatus | None:
    with rt.read_sessions() as session:
        return session.scalar(
            sa.select(Subscription.status).join(Subscriber).where(Subscriber.email == email)
        )


def test_resident_journey_over_smtp(smtp_rt: Runtime, smtp_sink: SmtpSink) -> None:
    rt = smtp_rt
    app = make_app(rt)
    client = app.test_client()
    email = "resident@example.net"

    response = subscribe(client, "wigan", "Resident@Example.NET")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/councils/wigan/check-email")
    assert "Check your email" in text(client.get(response.headers["Location"]))
    # The form only accepted the sign-up; the delivery loop acts on it, then sends.
    assert status_of(rt, email) is None

    deliver(rt)
    assert status_of(rt, email) == SubscriptionStatus.PENDING
    [confirmation] = smtp_sink.to(email)
    message = confirmation.message
    assert confirmation.rcpt_tos == [email]
    assert (
        subject(message)
        == "Confirm your subscription to Wigan Metropolitan Borough Council updates"
    )
    assert message["List-Unsubscribe"] is None  # transactional: nothing to unsubscribe from yet
    assert message["Auto-Submitted"] == "auto-generated"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    confirm_url = link_with(message, "/confirm/")
    assert confirm_url.startswith(rt.config.site.base_url)
    assert confirm_url in body(message, "html")

    # A link scanner's GET must not confirm anything.
    page = client.get(path_of(confirm_url))
    assert page.status_code == 200
    assert "Confirm subscription" in text(page)
    assert status_of(rt, email) == SubscriptionStatus.PENDING

    confirmed = post_form(client, path_of(confirm_url), path_of(confirm_url))
    assert confirmed.status_code == 303
    assert status_of(rt, email) == SubscriptionStatus.ACTIVE
    assert "subscribed to Wigan" in text(client.get(confirmed.headers["Location"]))

    deliver(rt)
    welcome = smtp_sink.to(email)[1].message
    assert subject(welcome) == "You're on the waitlist for Wigan Metropolitan Borough Council"
    assert (
        welcome["List-Id"] == "Wigan Metropolitan Borough Council <wigan.councildigest.example.org>"
    )
    assert welcome["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = welcome["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith("https://councildigest.example.org/unsubscribe/")
    assert "@" not in unsubscribe_url
    manage_url = link_with(welcome, "/manage/")
    assert unsubscribe_url in body(welcome) and unsubscribe_url in body(welcome, "html")
    assert "number 1 in the queue" in body(welcome)

    # One-click: a mailbox provider posts with no cookies and no CSRF token.
    provider = app.test_client(use_cookies=False)
    for attempt in range(2):
        one_click = provider.post(
            path_of(unsubscribe_url),
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert one_click.status_code == 200, attempt
        assert "Location" not in one_click.headers
        assert status_of(rt, email) == SubscriptionStatus.UNSUBSCRIBED

    # Manage page: download the data, then erase it.
    manage_page = client.get(path_of(manage_url))
    assert manage_page.status_code == 200
    assert email in text(manage_page)
    exported = post_form(client, path_of(manage_url), path_of(manage_url) + "/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["Content-Disposition"]
    data = json.loads(exported.get_data())
    assert data["email"] == email
    assert [s["council"] for s in data["subscriptions"]] == ["wigan"]
    assert [e["event"] for e in data["consent_events"]] == [
        "requested",
        "confirmed",
        "unsubscribed",
    ]
    assert {m["purpose"] for m in data["emails"]} == {"confirm_subscription", "welcome"}

    erased = post_form(
        client, path_of(manage_url), path_of(manage_url) + "/erase", {"confirm": "yes"}
    )
    assert erased.status_code == 303
    assert "erased" in text(client.get(erased.headers["Location"]))
    with rt.read_sessions() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(ConsentEvent)) == 0
        assert session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
        [suppression] = session.scalars(sa.select(Suppression)).all()
        assert suppression.reason.value == "erased"
        assert email not in suppression.email_hash
    assert client.get(path_of(manage_url)).status_code == 404


def test_multipart_one_click_and_browser_form(client: FlaskClient, rt: Runtime) -> None:
    from tests.integration.helpers import active_subscription

    subscription_id = active_subscription(rt, "multi@example.net", "leeds")
    token_path = "/unsubscribe/" + unsubscribe_link(rt, subscription_id).rsplit("/", 1)[1]
    page = client.get(token_path)
    assert page.status_code == 200 and "Unsubscribe" in text(page)
    assert status_of(rt, "multi@example.net") == SubscriptionStatus.ACTIVE
    response = client.post(
        token_path, data={"List-Unsubscribe": "One-Click"}, content_type="multipart/form-data"
    )
    assert response.status_code == 200 and "Location" not in response.headers
    assert status_of(rt, "multi@example.net") == SubscriptionStatus.UNSUBSCRIBED
