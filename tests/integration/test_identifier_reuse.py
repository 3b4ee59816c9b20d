"""Old links never reach a new person (issue 10): SQLite reused the ids of erased rows,
and manage/unsubscribe tokens carried only the id, so the next person to sign up was
controlled by the previous one's links."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest import subscriptions
from digest.db import Base
from digest.models import Subscriber, Subscription, SubscriptionStatus
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription
from tests.support.web import csrf_token, text


def _links(rt: Runtime, subscription_id: int) -> tuple[str, str, int]:
    with rt.read_sessions() as session:
        subscription = session.get_one(Subscription, subscription_id)
        subscriber = session.get_one(Subscriber, subscription.subscriber_id)
        manage = rt.links.manage(subscriber.id, subscriber.link_secret)
        unsubscribe = rt.links.unsubscribe(subscription.id, subscriber.link_secret)
        return manage, unsubscribe, subscriber.id


def _path(url: str) -> str:
    return url.removeprefix("https://councildigest.example.org")


def test_links_of_an_erased_person_never_reach_the_next_one(
    client: FlaskClient, rt: Runtime
) -> None:
    first = active_subscription(rt, "first@example.net", "wigan")
    old_manage, old_unsubscribe, old_subscriber = _links(rt, first)
    assert client.get(_path(old_manage)).status_code == 200
    with rt.sessions.begin() as session:
        subscriptions.erase(
            session,
            subscriber_id=old_subscriber,
            now=rt.now(),
            secret_key=rt.config.site.secret_key,
        )
    second = active_subscription(rt, "second@example.net", "wigan")
    new_manage, _, new_subscriber = _links(rt, second)
    # Identifiers are never handed out again, on SQLite as on PostgreSQL.
    assert second != first and new_subscriber != old_subscriber

    page = client.get(_path(old_manage))
    assert page.status_code == 404 and "second@example.net" not in text(page)
    token = csrf_token(client, _path(new_manage))
    for action, data in [
        ("export", {}),
        ("add", {"council": "leeds"}),
        ("unsubscribe", {"subscription": "all"}),
        ("erase", {"confirm": "yes"}),
    ]:
        response = client.post(f"{_path(old_manage)}/{action}", data={"csrf_token": token, **data})
        assert response.status_code == 404, action
    assert client.get(_path(old_unsubscribe)).status_code == 404
    assert client.post(_path(old_unsubscribe), data={}).status_code == 404
    with rt.read_sessions() as session:
        rows = session.execute(sa.select(Subscription.council_id, Subscription.status)).all()
        assert len(rows) == 1 and rows[0].status == SubscriptionStatus.ACTIVE
    # The new person's own links work.
    assert "second@example.net" in text(client.get(_path(new_manage)))


def test_ids_are_not_reused_even_for_rows_deleted_from_the_top(rt: Runtime) -> None:
    """The mechanism itself, for every table: delete the highest row, insert again."""
    first = active_subscription(rt, "top@example.net", "wigan")
    with rt.sessions.begin() as session:
        subscriber_id = session.get_one(Subscription, first).subscriber_id
        session.execute(sa.delete(Subscription))
        session.execute(sa.delete(Subscriber))
    second = active_subscription(rt, "top@example.net", "wigan")
    with rt.read_sessions() as session:
        assert second > first
        assert session.get_one(Subscription, second).subscriber_id > subscriber_id


def test_every_table_with_a_generated_id_never_reuses_it() -> None:
    """SQLite reuses rowids after the highest row is deleted unless a table is declared
    AUTOINCREMENT; every table whose rows get a generated integer id must be."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) == 1 and isinstance(pk[0].type, sa.Integer) and pk[0].autoincrement:
            assert table.dialect_options["sqlite"]["autoincrement"], table.name
