"""Arranging data for integration tests through the real services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from digest import councils, subscriptions
from digest.mail.report import DeliveryReport
from digest.models import Subscription
from digest.runtime import Runtime
from digest.subscriptions import Origin, signup

ORIGIN = Origin(source="/tests", ip="127.0.0.1")


def queue_notice(
    rt: Runtime,
    recipient: str,
    reference: str = "notice",
    *,
    subject: str = "Hello",
    subscriber_id: int | None = None,
) -> int | None:
    """Queue a plain one-off message (an admin notice); its outbox id, None if queued before."""
    from digest.mail import outbox
    from digest.mail.outbox import MessagePurpose

    with rt.sessions.begin() as session:
        return outbox.enqueue(
            session,
            purpose=MessagePurpose.ADMIN_NOTICE,
            reference=reference,
            recipient=recipient,
            now=rt.now(),
            domain="councildigest.example.org",
            subject=subject,
            body_text="Body\n",
            subscriber_id=subscriber_id,
        )


def run_delivery(rt: Runtime, worker: str | None = None) -> DeliveryReport:
    """Send everything due with the runtime's own mail backend, as one delivery run."""
    backend = rt.mail_backend()
    try:
        return rt.deliverer(backend, worker=worker).run_until_empty()
    finally:
        backend.close()


def deliver(rt: Runtime) -> None:
    """Send everything due; nothing may fail."""
    report = run_delivery(rt)
    assert report.failed == 0, report.errors


def with_mail(rt: Runtime, **mail: Any) -> Runtime:
    """Another runtime on the same database and clock, with some [mail] keys changed."""
    other = Runtime.from_config(rt.config.replace(mail=mail), engine=rt.engine)
    other.clock = rt.clock
    return other


def write_config_file(tmp_path: Path, engine: Engine, rt: Runtime, mail: str) -> Path:
    """A config file matching `rt` (for commands run with --config), plus `mail`: extra
    lines of its [mail] section."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[site]\nsecret_key = "{rt.config.site.secret_key}"\n'
        f'base_url = "{rt.config.site.base_url}"\n'
        f'var_dir = "{tmp_path / "var"}"\n'
        f'[database]\nurl = "{engine.url.render_as_string(hide_password=False)}"\n'
        f'[mail]\nfrom_address = "{rt.config.mail.from_address}"\n{mail}\n'
    )
    return path


def take_in(rt: Runtime) -> None:
    """Act on the sign-ups the subscribe form accepted, as the delivery loop does before
    each claim; none may fail."""
    while True:
        with rt.sessions.begin() as session:
            report = signup.take_in(session, rt.mail, now=rt.now())
        assert report.failed == 0
        if report.handled == 0:
            return


def pending_subscription(rt: Runtime, email: str, slug: str) -> int:
    """Subscribe `email` to council `slug` (not yet confirmed); returns the subscription id."""
    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        subscriptions.subscribe(
            session, rt.mail, council=council, email=email, now=rt.now(), origin=ORIGIN
        )
        subscription = session.scalars(
            sa.select(Subscription)
            .where(Subscription.council_id == council.id)
            .order_by(Subscription.id.desc())
        ).first()
        assert subscription is not None
        return subscription.id


def confirm_subscription(rt: Runtime, subscription_id: int) -> None:
    """Confirm as if by the link in the confirmation email."""
    with rt.sessions.begin() as session:
        subscription = session.get_one(Subscription, subscription_id)
        assert subscription.confirm_nonce
        token = rt.links.confirm(subscription.id, subscription.confirm_nonce).rsplit("/", 1)[1]
        subscriptions.confirm(session, rt.mail, token=token, now=rt.now(), origin=ORIGIN)


def active_subscription(rt: Runtime, email: str, slug: str) -> int:
    """Subscribe and confirm `email` to council `slug`; returns the subscription id.

    Its confirmation email is then no longer needed and is skipped at send time; use
    pending_subscription + confirm_subscription to see it delivered."""
    subscription_id = pending_subscription(rt, email, slug)
    confirm_subscription(rt, subscription_id)
    return subscription_id


def professional_request(
    rt: Runtime, slug: str, email: str, *, confirm: bool = True, subscribe: bool = False
) -> int:
    """A professional request for council `slug`, confirmed unless told otherwise."""
    from digest import professional_requests
    from digest.models import EnablementRequest
    from digest.professional_requests import RequestForm

    with rt.sessions.begin() as session:
        council = councils.get_by_slug(session, slug)
        assert council is not None
        professional_requests.submit(
            session,
            rt.mail,
            council=council,
            now=rt.now(),
            origin=ORIGIN,
            form=RequestForm(
                name="Pat Reporter",
                organisation="Wigan Observer",
                email=email,
                reason="Covering local planning decisions.",
            ),
        )
        request = session.scalars(
            sa.select(EnablementRequest).order_by(EnablementRequest.id.desc())
        ).first()
        assert request is not None and request.confirm_nonce
        if confirm:
            token = rt.links.confirm_request(request.id, request.confirm_nonce).rsplit("/", 1)[1]
            professional_requests.confirm(
                session, rt.mail, token=token, now=rt.now(), origin=ORIGIN, subscribe=subscribe
            )
        return request.id


def make_admin(
    rt: Runtime,
    email: str = "admin@councildigest.example.org",
    password: str = "correct horse battery staple",
) -> None:
    from digest import admins

    with rt.sessions.begin() as session:
        admins.create_admin(session, email, password, rt.now())


def manage_link(rt: Runtime, subscriber_id: int) -> str:
    """The subscriber's manage link, as their emails carry it."""
    from digest.models import Subscriber

    with rt.read_sessions() as session:
        secret = session.get_one(Subscriber, subscriber_id).link_secret
    return rt.links.manage(subscriber_id, secret)


def unsubscribe_link(rt: Runtime, subscription_id: int) -> str:
    """The subscription's unsubscribe link, as its emails carry it."""
    from digest.models import Subscriber

    with rt.read_sessions() as session:
        subscription = session.get_one(Subscription, subscription_id)
        secret = session.get_one(Subscriber, subscription.subscriber_id).link_secret
    return rt.links.unsubscribe(subscription_id, secret)


METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def full_metrics(rt: Runtime) -> str:
    """Every /metrics figure, as Prometheus scrapes them with the bearer token."""
    from tests.conftest import make_app

    secured = Runtime.from_config(
        rt.config.replace(web={"metrics_token": METRICS_TOKEN}), engine=rt.engine
    )
    secured.clock = rt.clock
    response = (
        make_app(secured)
        .test_client()
        .get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)
