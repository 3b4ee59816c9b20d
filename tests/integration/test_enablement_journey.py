"""The whole enablement journey with real components: residents wait on a council, a
professional asks for it, an admin signs in and enables it; everyone waiting hears once,
the council is collected from a (fake, loopback) ModernGov site, and the next weekly
build includes it. Mail goes over SMTP to a loopback server."""

from __future__ import annotations

from email.message import EmailMessage

import sqlalchemy as sa
from click.testing import CliRunner

from digest.cli import CliState, main
from digest.clock import utcnow
from digest.models import Council, CouncilStatus, Digest, EnablementRequest, RequestStatus
from digest.runtime import Runtime
from jobs import tasks
from tests.conftest import make_app
from tests.integration.helpers import deliver
from tests.support.clock import Clock
from tests.support.mail import link_with, path_of, subject
from tests.support.moderngov import FakeModernGov, FakeSite, manchester_like
from tests.support.smtp import SmtpSink
from tests.support.web import post_form, subscribe, text

ADMIN, PASSWORD = "admin@councildigest.example.org", "a long and careful passphrase"
RESIDENTS = ("first.resident@example.net", "second.resident@example.net")
PROFESSIONAL = "reporter@observer.example"


def inbox(sink: SmtpSink, address: str) -> list[EmailMessage]:
    return [received.message for received in sink.to(address)]


def newest(sink: SmtpSink, address: str) -> EmailMessage:
    return inbox(sink, address)[-1]


def test_enablement_journey(
    smtp_rt: Runtime, smtp_sink: SmtpSink, clock: Clock, fake_moderngov: FakeModernGov
) -> None:
    rt = smtp_rt
    clock.set(utcnow())  # the collector and the weekly build place meetings around today
    fake_moderngov.add_site("127.0.0.1", FakeSite(meetings=manchester_like(clock.now.date())))
    app = make_app(rt)
    web = app.test_client()

    # Two residents subscribe to Wigan, which is on the waitlist, and confirm by email.
    for address in RESIDENTS:
        resident = app.test_client()
        assert subscribe(resident, "wigan", address).status_code == 303
        deliver(rt)
        confirm = path_of(link_with(newest(smtp_sink, address), "/confirm/"))
        assert post_form(resident, confirm, confirm).status_code == 303
    deliver(rt)
    assert "waitlist" in subject(newest(smtp_sink, RESIDENTS[0]))

    # An admin exists (created with the CLI), so requests reach someone.
    created = CliRunner().invoke(
        main,
        ["admin", "create", ADMIN, "--password-stdin"],
        obj=CliState(None, rt),
        input=PASSWORD + "\n",
    )
    assert created.exit_code == 0, created.output

    # A professional asks for it, confirms, and takes the digest too.
    form = {
        "name": "Robin Reporter",
        "organisation": "Wigan Observer",
        "email": PROFESSIONAL,
        "reason": "We report on every planning decision in the borough.",
    }
    assert (
        post_form(web, "/councils/wigan/request", "/councils/wigan/request", form).status_code
        == 303
    )
    deliver(rt)
    confirm = path_of(link_with(newest(smtp_sink, PROFESSIONAL), "/requests/confirm/"))
    assert post_form(web, confirm, confirm, {"subscribe": "yes"}).status_code == 303

    # The admin signs in and sees Wigan top of the queue: three subscribers (the two
    # residents and the professional) + 10 for the confirmed request.
    deliver(rt)
    assert "New request to enable Wigan" in subject(newest(smtp_sink, ADMIN))
    admin = app.test_client()
    assert (
        post_form(
            admin, "/admin/login", "/admin/login", {"email": ADMIN, "password": PASSWORD}
        ).status_code
        == 303
    )
    queue = text(admin.get("/admin/queue"))
    first_row = queue.split("<tbody>")[1].split("</tr>")[0]
    assert "Wigan Metropolitan Borough Council" in first_row and '"Score">13</td>' in first_row

    # Point Wigan at its (fake) ModernGov site and enable it.
    post_form(
        admin,
        "/admin/councils/wigan",
        "/admin/councils/wigan/base-url",
        {"base_url": fake_moderngov.url()},
    )
    enabled = post_form(
        admin,
        "/admin/councils/wigan/enable?back=/admin/queue",
        "/admin/councils/wigan/enable",
        {"back": "/admin/queue", "confirm": "yes"},
    )
    assert enabled.status_code == 303
    after = text(admin.get("/admin/queue"))
    assert "Wigan Metropolitan Borough Council is enabled." in after  # the flash message
    assert 'href="/admin/councils/wigan"' not in after  # and it has left the queue
    rt.wait_for_background()  # the first collection runs after the response
    with rt.read_sessions() as session:
        wigan = session.scalars(sa.select(Council).where(Council.slug == "wigan")).one()
        assert wigan.status == CouncilStatus.ENABLED and wigan.last_success_at is not None
        assert session.scalar(sa.text("SELECT count(*) FROM meetings")) == 3
        request = session.scalars(sa.select(EnablementRequest)).one()
        assert request.status == RequestStatus.APPROVED

    # Everyone waiting hears exactly once; the requester is told their request worked.
    deliver(rt)
    for address in (*RESIDENTS, PROFESSIONAL):
        live = [m for m in inbox(smtp_sink, address) if subject(m).startswith("Wigan is live")]
        assert len(live) == 1, address
        assert live[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert any(
        subject(m) == "Wigan Metropolitan Borough Council is now live on Council Digest"
        for m in inbox(smtp_sink, PROFESSIONAL)
    )
    before = len(smtp_sink.messages)
    post_form(admin, "/admin/councils/wigan", "/admin/councils/wigan/enable", {"confirm": "yes"})
    rt.wait_for_background()
    deliver(rt)
    assert len(smtp_sink.messages) == before  # enabling twice tells nobody anything new

    # The next weekly run includes Wigan: a digest with last week's decisions for all three.
    assert "1 digests built" in tasks.weekly_digest(rt)
    deliver(rt)
    with rt.read_sessions() as session:
        digest = session.scalars(sa.select(Digest)).one()
    for address in (*RESIDENTS, PROFESSIONAL):
        [weekly] = [m for m in inbox(smtp_sink, address) if m["List-Archive"] is not None]
        assert subject(weekly) == digest.subject
        assert "Audit Committee" in weekly.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    actions = [line.split("<td>")[3] for line in text(admin.get("/admin/audit")).split("<tr>")[2:]]
    assert any(a.startswith("council.enable") for a in actions)
