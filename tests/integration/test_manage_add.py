"""Adding councils from the manage page: the link proved the address already."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient

from digest.models import (
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from digest.runtime import Runtime
from tests.integration.helpers import active_subscription, manage_link, professional_request
from tests.support.web import post_form, text


def test_add_councils_from_the_manage_page(client: FlaskClient, rt: Runtime) -> None:
    active_subscription(rt, "many@example.net", "wigan")
    with rt.read_sessions() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
    manage = "/manage/" + manage_link(rt, subscriber_id).rsplit("/", 1)[1]
    for slug in ("leeds", "bolton"):
        done = post_form(client, manage, manage + "/add", {"council": slug})
        assert done.status_code == 303
    page = text(client.get(manage))
    assert "Leeds City Council" in page and "Bolton" in page
    with rt.read_sessions() as session:
        statuses = set(session.scalars(sa.select(Subscription.status)))
        welcomes = session.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.purpose == "welcome")
        )
    assert statuses == {SubscriptionStatus.ACTIVE} and welcomes == 3
    assert post_form(client, manage, manage + "/add", {"council": "atlantis"}).status_code == 400
    assert client.post(manage + "/add", data={"council": "leeds"}).status_code == 400  # CSRF


def test_professionals_add_councils_as_professionals(client: FlaskClient, rt: Runtime) -> None:
    professional_request(rt, "wigan", "pat@observer.example", subscribe=True)
    with rt.read_sessions() as session:
        subscriber_id = session.scalars(sa.select(Subscriber.id)).one()
    manage = "/manage/" + manage_link(rt, subscriber_id).rsplit("/", 1)[1]
    post_form(client, manage, manage + "/add", {"council": "bolton"})
    with rt.read_sessions() as session:
        kinds = set(session.scalars(sa.select(Subscription.kind)))
    assert kinds == {SubscriptionKind.PROFESSIONAL}
