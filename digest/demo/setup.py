"""Everything `digest demo` does before it serves: the schema and council list, two
councils enabled and collected from the replay, an admin, a resident, a built digest."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from digest import admins, councils, enablement, schema, subscriptions
from digest.demo.replay import ReplayServer
from digest.mail.report import DeliveryReport
from digest.models import Admin
from digest.runtime import Runtime
from digest.weekly.build import BuildSettings
from digest.weekly.run import BuildReport, build_each
from digest.weekly.weeks import IsoWeek
from jobs import tasks

ADMIN_EMAIL = "demo-admin@example.org"
RESIDENT_EMAIL = "demo.resident@example.net"
ORIGIN = subscriptions.Origin(source="make demo", ip=None)


@dataclass
class DemoReady:
    admin_email: str
    admin_password: str
    councils: list[str] = field(default_factory=list)
    collected: str = ""
    built: str = ""
    delivered: DeliveryReport = field(default_factory=DeliveryReport)


def prepare(rt: Runtime, replay: ReplayServer) -> DemoReady:
    """Idempotent: run again (a new replay port) it points the councils at the new port,
    collects again, resets the demo admin's password and rebuilds the week's digest."""
    now = rt.now()
    schema.upgrade(rt.engine)
    password = secrets.token_urlsafe(12)
    slugs = sorted(replay.councils)
    with rt.sessions.begin() as session:
        councils.import_bundled(session, now)
        for slug in slugs:
            council = councils.get_by_slug(session, slug)
            assert council is not None, slug
            enablement.go_live(session, rt.mail, council, now, base_url=replay.base_url(slug))
        admin = session.scalar(sa.select(Admin).where(Admin.email == ADMIN_EMAIL))
        if admin is None:
            admins.create_admin(session, ADMIN_EMAIL, password, now)
        else:
            admins.set_password(session, admin, password)
    ready = DemoReady(ADMIN_EMAIL, password, slugs)
    ready.collected = tasks.collect_councils(rt, slugs)
    with rt.sessions.begin() as session:
        for slug in slugs:
            council = councils.get_by_slug(session, slug)
            assert council is not None
            subscriptions.add_confirmed(
                session, rt.mail, council=council, email=RESIDENT_EMAIL, now=now, origin=ORIGIN
            )
        ids = [c.id for c in (councils.get_by_slug(session, s) for s in slugs) if c]
    week = IsoWeek.of(now, rt.config.tz)
    report = BuildReport(week=week.label)
    for _ in build_each(
        rt.sessions, ids, week, now, BuildSettings.from_config(rt.config), rt.links, report
    ):
        pass
    ready.built = report.summary()
    backend = rt.mail_backend()
    try:
        ready.delivered = rt.deliverer(backend).run_until_empty()
    finally:
        backend.close()
    return ready
