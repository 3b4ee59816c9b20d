"""State is checked again when a message is sent, not only when it was queued: a digest
already in the outbox (even in a worker's claimed batch) is not sent after its reader
unsubscribes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import councils
from digest.mail.backends import MaildirBackend
from digest.models import (
    BLOCKING_SUPPRESSIONS,
    Digest,
    OutboxMessage,
    OutboxStatus,
    Subscription,
    SuppressionReason,
)
from digest.runtime import Runtime
from digest.suppressions import suppress
from tests.integration.helpers import active_subscription, unsubscribe_link
from tests.support.digests import enqueue_digest, make_digest
from tests.support.mail import maildir_messages, path_of, subject


def queue_digest(rt: Runtime, subscription_id: int, recipient: str) -> None:
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, "wigan")
        assert council is not None
        digest = make_digest(session, council, "2026-W48", rt.now())
        enqueue_digest(
            session, digest, session.get_one(Subscription, subscription_id), recipient, rt.now()
        )


def one_click(client: FlaskClient, rt: Runtime, subscription_id: int) -> None:
    response = client.post(
        path_of(unsubscribe_link(rt, subscription_id)),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200 and "Location" not in response.headers


def digest_rows(rt: Runtime) -> list[OutboxMessage]:
    with rt.read_sessions() as session:
        return list(
            session.scalars(
                sa.select(OutboxMessage).where(OutboxMessage.purpose == "weekly_digest")
            )
        )


def test_queued_digest_is_not_sent_after_one_click_unsubscribe(
    rt: Runtime, client: FlaskClient, tmp_path: Path
) -> None:
    subscription_id = active_subscription(rt, "reader@example.net", "wigan")
    queue_digest(rt, subscription_id, "reader@example.net")
    one_click(client, rt, subscription_id)
    box = tmp_path / "box"
    report = rt.deliverer(MaildirBackend(box)).run_until_empty()
    (row,) = digest_rows(rt)
    assert row.status == OutboxStatus.SUPPRESSED
    assert row.last_error == "subscription is no longer active"
    assert "your weekly council digest" not in " ".join(subject(m) for m in maildir_messages(box))
    # The welcome belonged to the subscription too; the confirmation was not needed,
    # since the subscription had been confirmed before it went out.
    assert (report.sent, report.suppressed) == (0, 3)


class UnsubscribeDuringBatch:
    """A real Maildir backend; while sending the first message of the batch, the reader
    of a later message in the same batch unsubscribes."""

    def __init__(self, box: Path, unsubscribe: Callable[[], None]) -> None:
        self.inner = MaildirBackend(box)
        self.unsubscribe = unsubscribe
        self.sent: list[str] = []

    def send(self, sender: str, recipient: str, message: bytes) -> None:
        if not self.sent:
            self.unsubscribe()
        self.sent.append(recipient)
        self.inner.send(sender, recipient, message)

    def close(self) -> None:
        self.inner.close()


def test_digest_in_a_claimed_batch_is_dropped_when_its_reader_unsubscribes(
    rt: Runtime, client: FlaskClient, tmp_path: Path
) -> None:
    first = active_subscription(rt, "early@example.net", "wigan")
    second = active_subscription(rt, "second@example.net", "wigan")
    reader = active_subscription(rt, "reader@example.net", "wigan")
    # Three welcomes (their confirmations were no longer needed once confirmed).
    assert rt.deliverer(MaildirBackend(tmp_path / "earlier")).run_until_empty().sent == 3
    queue_digest(rt, first, "early@example.net")
    with rt.sessions.begin() as session:
        (digest_id,) = {r.digest_id for r in digest_rows(rt)}
        digest = session.get_one(Digest, digest_id)
        for subscription_id, address in (
            (second, "second@example.net"),
            (reader, "reader@example.net"),
        ):
            enqueue_digest(
                session, digest, session.get_one(Subscription, subscription_id), address, rt.now()
            )
    backend_with_hook = UnsubscribeDuringBatch(
        tmp_path / "box", lambda: one_click(client, rt, reader)
    )
    # One batch holds all three digests. The reader unsubscribes while the first is on
    # the wire; the third is checked while the second is sent, and is dropped.
    report = rt.deliverer(backend_with_hook).run_once()
    assert (report.sent, report.suppressed) == (2, 1)
    assert backend_with_hook.sent == ["early@example.net", "second@example.net"]


def test_a_rebuilt_digest_is_sent_in_its_new_form(rt: Runtime, tmp_path: Path) -> None:
    """Digests are composed from a per-worker template; rebuilding one (new built_at)
    must reach the readers not yet sent to."""
    reader = active_subscription(rt, "reader@example.net", "wigan")
    other = active_subscription(rt, "other@example.net", "wigan")
    queue_digest(rt, reader, "reader@example.net")
    with rt.sessions.begin() as session:
        (row,) = digest_rows(rt)
        digest = session.get_one(Digest, row.digest_id)
        first = rt.composer.compose(session, row, rt.now()).as_bytes()
        digest.body_text = digest.body_text.replace("Cabinet", "Full Council")
        digest.subject = "Wigan: corrected digest"
        digest.built_at = rt.now() + timedelta(minutes=5)
        enqueue_digest(
            session, digest, session.get_one(Subscription, other), "other@example.net", rt.now()
        )
    with rt.sessions.begin() as session:
        rows = {r.recipient: r for r in digest_rows(rt)}
        again = rt.composer.compose(session, rows["reader@example.net"], rt.now()).as_bytes()
        second = rt.composer.compose(session, rows["other@example.net"], rt.now()).as_bytes()
    assert b"Full Council" not in first and b"Full Council" in again
    assert b"Subject: Wigan: corrected digest" in second
    assert b"To: other@example.net" in second and b"To: reader@example.net" in again


def test_links_are_made_from_the_link_secret_as_it_is_at_send_time(
    rt: Runtime, tmp_path: Path
) -> None:
    """The send-time check's query also reads the reader's link secret: a digest queued
    before the secret changed carries links made from the new one."""
    from digest.models import Subscriber

    subscription_id = active_subscription(rt, "reader@example.net", "wigan")
    queue_digest(rt, subscription_id, "reader@example.net")
    old_link = unsubscribe_link(rt, subscription_id)
    with rt.sessions.begin() as session:
        subscription = session.get_one(Subscription, subscription_id)
        session.get_one(Subscriber, subscription.subscriber_id).link_secret = "b" * 32
    new_link = unsubscribe_link(rt, subscription_id)
    assert new_link != old_link
    box = tmp_path / "box"
    rt.deliverer(MaildirBackend(box)).run_until_empty()
    (digest,) = [m for m in maildir_messages(box) if m["List-Archive"]]
    assert digest["List-Unsubscribe"] == f"<{new_link}>"
    assert old_link.encode() not in digest.as_bytes()


@pytest.mark.parametrize("reason", list(SuppressionReason))
def test_a_suppression_added_after_queueing_stops_the_send_when_it_blocks(
    rt: Runtime, tmp_path: Path, reason: SuppressionReason
) -> None:
    """Every blocking reason stops a digest already queued; an erasure's hash alone does
    not (the address may subscribe again)."""
    subscription_id = active_subscription(rt, "reader@example.net", "wigan")
    queue_digest(rt, subscription_id, "reader@example.net")
    with rt.sessions.begin() as session:
        suppress(session, rt.config.site.secret_key, "reader@example.net", reason, rt.now())
    rt.deliverer(MaildirBackend(tmp_path / "box")).run_until_empty()
    (row,) = digest_rows(rt)
    if reason in BLOCKING_SUPPRESSIONS:
        assert (row.status, row.last_error) == (OutboxStatus.SUPPRESSED, "address is suppressed")
    else:
        assert row.status == OutboxStatus.SENT
