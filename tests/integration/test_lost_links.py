"""Issue 19: a garbled unsubscribe or manage link explains itself and offers a new manage
link by email, answering the same whatever the address's state."""

from __future__ import annotations

import mailbox
import re

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.mail.outbox import MessagePurpose
from digest.models import OutboxMessage, Subscription
from digest.runtime import Runtime
from tests.integration.helpers import (
    active_subscription,
    deliver,
    manage_link,
    unsubscribe_link,
)
from tests.support.web import post_form, text

EMAIL = "resident@example.net"


def manage_link_rows(rt: Runtime) -> list[OutboxMessage]:
    with rt.read_sessions() as session:
        return list(
            session.scalars(
                sa.select(OutboxMessage).where(
                    OutboxMessage.purpose == MessagePurpose.MANAGE_LINK.value
                )
            )
        )


def test_a_garbled_link_offers_a_new_one_by_email(client: FlaskClient, rt: Runtime) -> None:
    subscription_id = active_subscription(rt, EMAIL, "wigan")
    deliver(rt)  # the confirmation and welcome emails, out of the way
    with rt.read_sessions() as session:
        subscriber_id = session.get_one(Subscription, subscription_id).subscriber_id
    path = manage_link(rt, subscriber_id).split("/manage/", 1)[1]
    garbled = [
        "/manage/" + path[:-6],  # cut short by a mail client
        "/unsubscribe/" + unsubscribe_link(rt, subscription_id).split("/unsubscribe/")[1][:-6],
        "/manage/not-a-token",
    ]
    for url in garbled:
        page = client.get(url)
        assert page.status_code == 404, url
        body = text(page)
        assert "This link does not work" in body and "Page not found" not in body
        assert "Send me a new link" in body and 'action="/manage-link"' in page.get_data(
            as_text=True
        )

    known = post_form(client, "/manage-link", "/manage-link", {"email": " Resident@Example.NET "})
    unknown = post_form(client, "/manage-link", "/manage-link", {"email": "nobody@example.net"})
    assert known.status_code == unknown.status_code == 200
    assert text(known) == text(unknown)
    assert "Check your email" in text(known)
    again = post_form(client, "/manage-link", "/manage-link", {"email": EMAIL})
    assert text(again) == text(known)
    rows = manage_link_rows(rt)
    assert [r.recipient for r in rows] == [EMAIL]  # one a day, and none for strangers

    bad = post_form(client, "/manage-link", "/manage-link", {"email": "not an address"})
    assert bad.status_code == 400 and "not an address" in text(bad)

    deliver(rt)
    box = mailbox.Maildir(rt.config.mail.maildir_path, create=False)
    mails = [m for m in box if "manage your" in (m["Subject"] or "")]
    assert len(mails) == 1 and mails[0]["To"] == EMAIL
    plain = next(p for p in mails[0].walk() if p.get_content_type() == "text/plain")
    body = plain.get_payload(decode=True).decode()
    link = re.search(r"https?://\S+/manage/\S+", body)
    assert link is not None
    page = client.get("/manage/" + link.group(0).split("/manage/", 1)[1])
    assert page.status_code == 200, "the emailed link works"
    assert "Wigan" in text(page) and "This link does not work" not in text(page)
